import { SessionDataError } from '../errors/session-data.error';
import { stateOf } from '../store/session-state';
import { append, casCalls, fakePersistence, requestSession, tick } from '../../../../test/support/key-update-fakes';
import { SessionKeyUpdates } from './atomic-update';

/** Group commit and pipelining of one key's updates, and what each caller gets back. */
describe('SessionKeyUpdates', () => {
  it('writes the updates queued behind a write in flight together, sent at once expecting what that write leaves', async () => {
    const { sessions, calls } = fakePersistence();
    const updates = new SessionKeyUpdates(sessions, 3);
    const requests = ['a', 'b', 'c', 'd'].map(() => requestSession({ items: [] }));
    const results = requests.map((session, i) => updates.update('s1', session, 'items', append(`item-${i}`)));

    // Both are in flight before the first is answered (pipelined).
    const [first, group] = await casCalls(calls, 2);
    expect(first).toMatchObject({ redisKey: 'sess:s1', field: 'items', expected: '[]', next: '["item-0"]' });
    // The group starts from what the first write leaves, not from what its requests read: no conflict with ourselves.
    expect(group).toMatchObject({ expected: '["item-0"]', next: '["item-0","item-1","item-2","item-3"]' });
    first.reply.resolve({ status: 'written' });
    group.reply.resolve({ status: 'written' });

    await expect(Promise.all(results)).resolves.toEqual([
      ['item-0'],
      ['item-0', 'item-1'],
      ['item-0', 'item-1', 'item-2'],
      ['item-0', 'item-1', 'item-2', 'item-3'],
    ]);
    // Each request shows its own result and records it as stored, so its end-of-request save skips the key.
    expect(requests[1].items).toEqual(['item-0', 'item-1']);
    expect(stateOf(requests[1])!.stored!.get('items')).toBe('["item-0","item-1"]');
  });

  it('fails only the caller whose change throws; the value carries on to the next change', async () => {
    const { sessions, calls } = fakePersistence();
    const updates = new SessionKeyUpdates(sessions, 3);
    const first = updates.update('s1', requestSession({ items: [] }), 'items', append('a'));
    const failing = updates
      .update('s1', requestSession({ items: [] }), 'items', () => {
        throw new Error('no such product');
      })
      .catch((error: unknown) => error); // rejected before the group is written, so caught at once
    const last = updates.update('s1', requestSession({ items: [] }), 'items', append('c'));

    const [head, group] = await casCalls(calls, 2);
    expect(group).toMatchObject({ expected: '["a"]', next: '["a","c"]' });
    head.reply.resolve({ status: 'written' });
    group.reply.resolve({ status: 'written' });
    await expect(first).resolves.toEqual(['a']);
    await expect(failing).resolves.toMatchObject({ message: 'no such product' });
    await expect(last).resolves.toEqual(['a', 'c']);
  });

  it('writes with the latest expiry of the group', async () => {
    const { sessions, calls } = fakePersistence();
    const updates = new SessionKeyUpdates(sessions, 3);
    const results = [5_000, 9_000, 7_000].map((expiresAt, i) => updates.update('s1', requestSession({ n: 0 }, expiresAt), 'n', () => i));
    const [head, group] = await casCalls(calls, 2);
    head.reply.resolve({ status: 'written' });
    expect(group.expiresAt).toBe(9_000);
    group.reply.resolve({ status: 'written' });
    await Promise.all(results);
  });

  it('passes a Redis failure to the groups it hit; the group queued next starts from its own read, not a remembered value', async () => {
    const { sessions, calls } = fakePersistence();
    const updates = new SessionKeyUpdates(sessions, 3);
    const failed = updates.update('s1', requestSession({ items: ['a'] }), 'items', append('b'));
    const alsoFailed = updates.update('s1', requestSession({ items: ['a'] }), 'items', append('c'));
    const [first, second] = await casCalls(calls, 2);
    expect(second).toMatchObject({ expected: '["a","b"]', next: '["a","b","c"]' });
    const later = updates.update('s1', requestSession({ items: ['a', 'z'] }), 'items', append('d')); // waits: two in flight
    first.reply.reject(new Error('Redis is down'));
    await expect(failed).rejects.toThrow('Redis is down');
    await tick();
    expect(calls).toHaveLength(2); // nothing is sent on top of a group whose own base just failed
    second.reply.reject(new Error('Redis is down'));
    await expect(alsoFailed).rejects.toThrow('Redis is down');
    const [, , third] = await casCalls(calls, 3);
    expect(third).toMatchObject({ expected: '["a","z"]', next: '["a","z","d"]' });
    third.reply.resolve({ status: 'written' });
    await expect(later).resolves.toEqual(['a', 'z', 'd']);
  });

  it('a failure of the first group in flight fails only its callers; the group behind it is applied again to what Redis answered', async () => {
    const { sessions, calls } = fakePersistence();
    const updates = new SessionKeyUpdates(sessions, 3);
    const failed = updates.update('s1', requestSession({ items: ['a'] }), 'items', append('b'));
    const next = updates.update('s1', requestSession({ items: ['a'] }), 'items', append('c'));
    const [first, second] = await casCalls(calls, 2);
    first.reply.reject(new Error('Redis is down'));
    await expect(failed).rejects.toThrow('Redis is down');
    second.reply.resolve({ status: 'changed', current: '["a"]' }); // the first never ran, so this one lost too
    const [, , third] = await casCalls(calls, 3);
    expect(third).toMatchObject({ expected: '["a"]', next: '["a","c"]' });
    third.reply.resolve({ status: 'written' });
    await expect(next).resolves.toEqual(['a', 'c']);
  });

  it('keeps at most two groups of a key in flight; what arrives meanwhile goes out, as one group, when the first answers', async () => {
    const { sessions, calls } = fakePersistence();
    const updates = new SessionKeyUpdates(sessions, 3);
    const early = [updates.update('s1', requestSession({ n: 0 }), 'n', (n: number | undefined) => (n ?? 0) + 1)];
    await casCalls(calls, 1);
    early.push(updates.update('s1', requestSession({ n: 0 }), 'n', (n: number | undefined) => (n ?? 0) + 1));
    await casCalls(calls, 2); // sent while the first is in flight
    const late = [1, 2, 3].map(() => updates.update('s1', requestSession({ n: 0 }), 'n', (n: number | undefined) => (n ?? 0) + 1));
    await tick();
    expect(calls).toHaveLength(2);
    calls[0].reply.resolve({ status: 'written' });
    const [, , third] = await casCalls(calls, 3);
    expect(third).toMatchObject({ expected: '2', next: '5' });
    calls[1].reply.resolve({ status: 'written' });
    third.reply.resolve({ status: 'written' });
    await expect(Promise.all([...early, ...late])).resolves.toEqual([1, 2, 3, 4, 5]);
  });

  it('forgets a key between bursts, so a later burst starts from what its request read', async () => {
    const { sessions, calls } = fakePersistence();
    const updates = new SessionKeyUpdates(sessions, 3);
    const first = updates.update('s1', requestSession({ items: [] }), 'items', append('a'));
    (await casCalls(calls, 1))[0].reply.resolve({ status: 'written' });
    await first;
    await tick(); // the drain forgets the key once its last group has settled
    const later = updates.update('s1', requestSession({ items: ['a', 'elsewhere'] }), 'items', append('b'));
    const [, second] = await casCalls(calls, 2);
    expect(second.expected).toBe('["a","elsewhere"]');
    second.reply.resolve({ status: 'written' });
    await later;
  });

  it('updates different keys, and the same key of different sessions, independently', async () => {
    const { sessions, calls } = fakePersistence();
    const updates = new SessionKeyUpdates(sessions, 3);
    const results = [
      updates.update('s1', requestSession({ a: 0 }), 'a', () => 1),
      updates.update('s1', requestSession({ b: 0 }), 'b', () => 1),
      updates.update('s2', requestSession({ a: 0 }), 'a', () => 1),
    ];
    // All three in flight at once, none queued behind another.
    const sent = await casCalls(calls, 3);
    expect(sent.map(({ redisKey, field }) => `${redisKey} ${field}`)).toEqual(['sess:s1 a', 'sess:s1 b', 'sess:s2 a']);
    for (const call of calls) call.reply.resolve({ status: 'written' });
    await Promise.all(results);
  });

  it('refuses the cookie and reserved keys', async () => {
    const { sessions } = fakePersistence();
    const updates = new SessionKeyUpdates(sessions, 3);
    await expect(updates.update('s1', requestSession({}), 'cookie', () => 1)).rejects.toMatchObject({ name: 'SessionDataError' });
    await expect(updates.update('s1', requestSession({}), ':meta', () => 1)).rejects.toMatchObject({ name: 'SessionDataError' });
  });

  it('fails alone, before its change runs, a caller whose session asks for an expiry no cookie can carry', async () => {
    const { sessions, calls } = fakePersistence();
    const updates = new SessionKeyUpdates(sessions, 3);
    const broken = jest.fn(append('never'));
    const first = updates.update('s1', requestSession({ items: [] }), 'items', append('a'));
    const refused = expect(updates.update('s1', requestSession({ items: [] }, Number.NaN), 'items', broken)).rejects.toBeInstanceOf(SessionDataError);
    const accepted = updates.update('s1', requestSession({ items: [] }, 2_000), 'items', append('b'));
    const [written, group] = await casCalls(calls, 2);
    expect(group).toMatchObject({ expected: '["a"]', next: '["a","b"]', expiresAt: 2_000 });
    written.reply.resolve({ status: 'written' });
    group.reply.resolve({ status: 'written' });
    await expect(first).resolves.toEqual(['a']);
    await refused;
    await expect(accepted).resolves.toEqual(['a', 'b']);
    expect(broken).not.toHaveBeenCalled();
  });
});
