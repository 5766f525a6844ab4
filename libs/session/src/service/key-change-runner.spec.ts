import { SessionTooLargeError } from '../errors/session-too-large.error';
import { FieldSealer } from '../store/field-sealer';
import { attachState, stateOf } from '../store/session-state';
import { append, casCalls, fakePersistence, requestSession } from '../../../../test/support/key-update-fakes';
import { SessionKeyUpdates } from './atomic-update';
import { KeyChangeRunner } from './key-change-runner';
import type { KeyChange, PendingUpdate } from './key-update-queue';

/** How `KeyChangeRunner` measures a session against `maxSessionBytes` (1,000 in the fakes) before a group is written. */
describe('KeyChangeRunner', () => {
  /**
   * A session holding `other` (5 + 2 + 93 = 100 bytes: name and JSON), a reserved field of 2,000
   * bytes and the key `items` with an old value of 500 bytes: neither of the last two counts, since
   * reserved fields are the library's own and the old value is replaced. The new value of `items`
   * then has 1,000 - 100 - 5 = 895 bytes of JSON to fill exactly.
   */
  function session(): Record<string, unknown> {
    const fields = { other: 'o'.repeat(93), items: 'x'.repeat(498) };
    const value = requestSession(fields);
    stateOf(value)!.stored!.set(':m', 'r'.repeat(1_998));
    return value;
  }

  it('lets a change fill the session to maxSessionBytes exactly, counting neither reserved fields nor the value it replaces', async () => {
    const { sessions, calls } = fakePersistence();
    const updates = new SessionKeyUpdates(sessions, 3);
    const result = updates.update('s1', session(), 'items', () => 'n'.repeat(893));
    (await casCalls(calls, 1))[0].reply.resolve({ status: 'written' });
    await expect(result).resolves.toHaveLength(893);
  });

  it('refuses a change one byte past it, naming the size, and writes nothing', async () => {
    const { sessions, calls } = fakePersistence();
    const updates = new SessionKeyUpdates(sessions, 3);
    const error = await updates.update('s1', session(), 'items', () => 'n'.repeat(894)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionTooLargeError);
    expect(error).toMatchObject({ bytes: 1_001, limit: 1_000 });
    expect(calls).toHaveLength(0);
  });

  it('counts a key the change deletes as nothing', async () => {
    const { sessions, calls } = fakePersistence();
    (sessions.context.settings as { maxSessionBytes: number }).maxSessionBytes = 100;
    const updates = new SessionKeyUpdates(sessions, 3);
    const result = updates.update('s1', session(), 'items', () => undefined);
    (await casCalls(calls, 1))[0].reply.resolve({ status: 'written' });
    await expect(result).resolves.toBeUndefined();
  });

  it("counts the library's fields and the value replaced as nothing, however small, and every other key in full", async () => {
    const { sessions, calls } = fakePersistence();
    const updates = new SessionKeyUpdates(sessions, 3);
    // `other` 100 bytes, `items` (old) 8, a reserved field 5: a new `items` of 5 + 896 takes the session to 1,001.
    const value = requestSession({ other: 'o'.repeat(93), items: 'x' });
    stateOf(value)!.stored!.set(':m', '"r"');
    const error = await updates.update('s1', value, 'items', () => 'n'.repeat(894)).catch((e: unknown) => e);
    expect(error).toMatchObject({ bytes: 1_001, limit: 1_000 });
    const fits = updates.update('s1', value, 'items', () => 'n'.repeat(893));
    (await casCalls(calls, 1))[0].reply.resolve({ status: 'written' });
    await expect(fits).resolves.toHaveLength(893);
  });

  it('lets a change through that fits once a value left sealed is counted exactly, though its bound from the sealed length would not', async () => {
    const { sessions, calls } = fakePersistence();
    const updates = new SessionKeyUpdates(sessions, 3);
    const sealer = new FieldSealer({ keys: [Buffer.alloc(32, 7)], acceptPlaintext: false });
    const value = requestSession({ items: 'x' });
    const state = stateOf(value)!;
    // 100 characters of JSON but 198 bytes of UTF-8: the bound counts bytes, the limit characters.
    state.stored!.set('other', sealer.seal('sess:s1', 'other', JSON.stringify('é'.repeat(98))));
    state.opening = { sealer, redisKey: 'sess:s1' };
    const result = updates.update('s1', value, 'items', () => 'n'.repeat(888)); // 5 + 100 + 5 + 890 = 1,000 exactly
    (await casCalls(calls, 1))[0].reply.resolve({ status: 'written' });
    await expect(result).resolves.toHaveLength(888);
  });

  it('rejects the caller of a never-stored session whose save fails, with that failure', async () => {
    const { sessions } = fakePersistence();
    const failure = new Error('Redis went away');
    (sessions.writer.saveChanges as jest.Mock).mockRejectedValueOnce(failure);
    const updates = new SessionKeyUpdates(sessions, 3);
    const fresh: Record<string, unknown> = { expiresAt: 1_000 };
    attachState(fresh, { stored: null, createdAt: 0, refreshed: true });
    await expect(updates.update('s1', fresh, 'items', append('new'))).rejects.toBe(failure);
  });

  it('runs a change that answered a promise once, and each change after it on its own session: its expiry, its result', async () => {
    const { sessions, calls } = fakePersistence();
    const updates = new SessionKeyUpdates(sessions, 3);
    const soon = Date.now() + 60_000;
    const later = Date.now() + 120_000;
    const first = updates.update('s1', requestSession({ items: [] }, soon), 'items', append('a'));
    const [ahead] = await casCalls(calls, 1);
    const slow = jest.fn((items: string[] | undefined) => Promise.resolve([...(items ?? []), 'b']));
    const group = [
      updates.update('s1', requestSession({ items: [] }, soon), 'items', slow),
      updates.update('s1', requestSession({ items: [] }, later), 'items', append('c')),
      updates.update('s1', requestSession({ items: [] }, soon), 'items', () => null),
    ];
    const [, behind] = await casCalls(calls, 2);
    expect(slow).toHaveBeenCalledTimes(1);
    expect(behind).toMatchObject({ expected: '["a"]', next: 'null', expiresAt: later });
    ahead.reply.resolve({ status: 'written' });
    behind.reply.resolve({ status: 'written' });
    await first;
    await expect(Promise.all(group)).resolves.toEqual([['a', 'b'], ['a', 'b', 'c'], null]);
  });

  it('takes a change that answers null as the value null, not as a promise', async () => {
    const { sessions, calls } = fakePersistence();
    const updates = new SessionKeyUpdates(sessions, 3);
    const result = updates.update('s1', requestSession({ items: ['a'] }), 'items', () => null);
    const [call] = await casCalls(calls, 1);
    expect(call).toMatchObject({ expected: '["a"]', next: 'null' });
    call.reply.resolve({ status: 'written' });
    await expect(result).resolves.toBeNull();
  });

  it('waits for a thenable the change answers, a function as well as an object', async () => {
    const { sessions, calls } = fakePersistence();
    const updates = new SessionKeyUpdates(sessions, 3);
    const thenable = Object.assign(() => undefined, { then: (resolve: (value: unknown) => void) => resolve(['from a thenable']) });
    const result = updates.update('s1', requestSession({ items: [] }), 'items', () => thenable);
    const [call] = await casCalls(calls, 1);
    expect(call.next).toBe('["from a thenable"]');
    call.reply.resolve({ status: 'written' });
    await expect(result).resolves.toEqual(['from a thenable']);
  });

  it('applies changes that answer values without a promise: no turn of the event loop for the common case', () => {
    const { sessions } = fakePersistence();
    const pending = (change: KeyChange): PendingUpdate => {
      const session = requestSession({ items: [] });
      return { session, state: stateOf(session)!, change, resolve: jest.fn(), reject: jest.fn(), conflicts: 0 };
    };
    const group = [pending(append('a') as KeyChange), pending(() => ({ plain: 'object' })), pending(() => null)];
    const applied = new KeyChangeRunner(sessions).applyInOrder('items', '[]', group);
    expect(Array.isArray(applied)).toBe(true);
    expect((applied as { json: string }[]).map((entry) => entry.json)).toEqual(['["a"]', '{"plain":"object"}', 'null']);
  });

  it('saves a session never stored whole; an update of a stored one queued behind it starts from its own read', async () => {
    const { sessions, calls } = fakePersistence();
    const updates = new SessionKeyUpdates(sessions, 3);
    const fresh: Record<string, unknown> = { expiresAt: 1_000 };
    attachState(fresh, { stored: null, createdAt: 0, refreshed: true });
    const first = updates.update('s1', fresh, 'items', append('new'));
    const second = updates.update('s1', requestSession({ items: ['read'] }), 'items', append('b'));
    await expect(first).resolves.toEqual(['new']);
    expect(fresh.items).toEqual(['new']);
    expect(sessions.writer.saveChanges).toHaveBeenCalledWith('s1', fresh);
    const [call] = await casCalls(calls, 1);
    expect(call).toMatchObject({ expected: '["read"]', next: '["read","b"]' });
    call.reply.resolve({ status: 'written' });
    await expect(second).resolves.toEqual(['read', 'b']);
  });

  it('applies a group in order whether its changes answer values or promises, each on the result before it; a change that fails fails its caller only', async () => {
    const { sessions, calls } = fakePersistence();
    const updates = new SessionKeyUpdates(sessions, 3);
    const session = requestSession({ items: [] });
    const first = updates.update('s1', session, 'items', append('a'));
    const [ahead] = await casCalls(calls, 1);
    // Queued behind the first, so applied together: a value, a promise, a promise that fails, a value.
    const group = [
      updates.update('s1', session, 'items', append('b')),
      updates.update('s1', session, 'items', async (items: string[] | undefined) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        return [...(items ?? []), 'c'];
      }),
      updates.update('s1', session, 'items', () => Promise.reject(new Error('change failed'))),
      updates.update('s1', session, 'items', append('d')),
    ];
    const outcomes = Promise.allSettled(group);
    const [, behind] = await casCalls(calls, 2);
    expect(behind).toMatchObject({ expected: '["a"]', next: '["a","b","c","d"]' });
    ahead.reply.resolve({ status: 'written' });
    behind.reply.resolve({ status: 'written' });
    await expect(first).resolves.toEqual(['a']);
    const settled = await outcomes;
    expect(settled.map((result) => (result.status === 'fulfilled' ? result.value : (result.reason as Error).message))).toEqual([
      ['a', 'b'],
      ['a', 'b', 'c'],
      'change failed',
      ['a', 'b', 'c', 'd'],
    ]);
    expect(session.items).toEqual(['a', 'b', 'c', 'd']);
  });
});
