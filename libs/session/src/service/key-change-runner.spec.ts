import { SessionTooLargeError } from '../errors/session-too-large.error';
import { attachState, stateOf } from '../store/session-state';
import { append, casCalls, fakePersistence, requestSession } from '../../../../test/support/key-update-fakes';
import { SessionKeyUpdates } from './atomic-update';

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
