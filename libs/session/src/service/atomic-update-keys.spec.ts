import { SessionDataError } from '../errors/session-data.error';
import { casCalls, fakePersistence, requestSession } from '../../../../test/support/key-update-fakes';
import { SessionKeyUpdates } from './atomic-update';

/** Which keys `SessionService.update` takes, and how it tells the queues of keys apart. */
describe('SessionKeyUpdates keys', () => {
  it.each([
    ['cookie', /cannot be updated with SessionService.update/],
    [':meta', /reserved for the library/],
    ['save', /inherits a member of that name/],
    ['__proto__', /inherits a member of that name/],
  ])('refuses %s with a SessionDataError naming the key, before reading or writing anything', async (key, message) => {
    const { sessions, calls } = fakePersistence();
    const updates = new SessionKeyUpdates(sessions, 3);
    const change = jest.fn(() => 1);
    const error = await updates.update('s1', requestSession({}), key, change).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionDataError);
    expect(error).toMatchObject({ key });
    expect((error as Error).message).toMatch(message);
    expect(change).not.toHaveBeenCalled();
    expect(calls).toHaveLength(0);
  });

  it('keeps apart the queues of two sessions whose Redis key and field run together alike', async () => {
    const { sessions, calls } = fakePersistence();
    const updates = new SessionKeyUpdates(sessions, 3);
    const results = [updates.update('s1', requestSession({ ab: 0 }), 'ab', () => 1), updates.update('s1a', requestSession({ b: 0 }), 'b', () => 2)];
    // Both in flight at once, each expecting what its own request read: neither queued behind the other.
    const sent = await casCalls(calls, 2);
    expect(sent.map(({ redisKey, field, expected }) => `${redisKey} ${field} ${expected}`)).toEqual(['sess:s1 ab 0', 'sess:s1a b 0']);
    for (const call of calls) call.reply.resolve({ status: 'written' });
    await expect(Promise.all(results)).resolves.toEqual([1, 2]);
  });
});
