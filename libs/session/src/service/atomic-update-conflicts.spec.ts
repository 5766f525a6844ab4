import { SessionConflictError } from '../errors/session-conflict.error';
import { attachState, stateOf } from '../store/session-state';
import { append, casCalls, fakePersistence, requestSession, tick } from '../../../../test/support/key-update-fakes';
import { SessionKeyUpdates } from './atomic-update';

/** Updates that lose to another process (or find the session gone), and the retries that follow. */
describe('SessionKeyUpdates when another process wins', () => {
  it('applies the whole group again, at once, to the value another process wrote', async () => {
    const { sessions, calls } = fakePersistence();
    const updates = new SessionKeyUpdates(sessions, 3);
    const change = jest.fn(append('mine'));
    const result = updates.update('s1', requestSession({ items: [] }), 'items', change);

    const [first] = await casCalls(calls, 1);
    first.reply.resolve({ status: 'changed', current: '["theirs"]' });
    const [, second] = await casCalls(calls, 2);
    expect(second).toMatchObject({ expected: '["theirs"]', next: '["theirs","mine"]' });
    second.reply.resolve({ status: 'written' });
    await expect(result).resolves.toEqual(['theirs', 'mine']);
    expect(change.mock.calls).toEqual([[[]], [['theirs']]]);
  });

  it("rejects the whole group with 'contention' once other processes won more than updateRetries times", async () => {
    const { sessions, calls } = fakePersistence();
    const updates = new SessionKeyUpdates(sessions, 2);
    const blocker = updates.update('s1', requestSession({ items: [] }), 'items', append('first'));
    const group = [
      updates.update('s1', requestSession({ items: [] }), 'items', append('x')),
      updates.update('s1', requestSession({ items: [] }), 'items', append('y')),
    ];
    (await casCalls(calls, 2))[0].reply.resolve({ status: 'written' });
    await blocker;
    for (let attempt = 1; attempt <= 3; attempt++) {
      const call = (await casCalls(calls, 1 + attempt))[attempt];
      call.reply.resolve({ status: 'changed', current: JSON.stringify([`theirs-${attempt}`]) });
    }
    for (const result of group) {
      const error = await result.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SessionConflictError);
      expect(error).toMatchObject({ reason: 'contention' });
    }
    expect(calls).toHaveLength(4); // 1 + updateRetries + 1 attempts, then no more
  });

  it('retries the first conflicts at once, then pauses before every other attempt only', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    try {
      const { sessions, calls } = fakePersistence();
      const updates = new SessionKeyUpdates(sessions, 20);
      const result = updates.update('s1', requestSession({ n: 0 }), 'n', (n: number | undefined) => (n ?? 0) + 1);
      const settle = async () => {
        for (let i = 0; i < 20; i++) await tick();
      };
      const seen: number[] = [];
      for (let conflict = 1; conflict <= 5; conflict++) {
        await settle();
        calls[calls.length - 1].reply.resolve({ status: 'changed', current: String(conflict * 10) });
        await settle();
        seen.push(calls.length); // an attempt sent without any timer firing
        jest.runOnlyPendingTimers();
      }
      // After conflicts 1 and 2 the retry goes out at once; after 3 it waits for a timer; after 4 (the
      // attempt that follows a pause) at once again; after 5 it waits again.
      expect(seen).toEqual([2, 3, 3, 5, 5]);
      await settle();
      calls[calls.length - 1].reply.resolve({ status: 'written' });
      await expect(result).resolves.toBe(51);
    } finally {
      jest.useRealTimers();
    }
  });

  it("rejects the group with 'gone' when the session ended", async () => {
    const { sessions, calls } = fakePersistence();
    const updates = new SessionKeyUpdates(sessions, 3);
    const result = updates.update('s1', requestSession({ items: [] }), 'items', append('a'));
    (await casCalls(calls, 1))[0].reply.resolve({ status: 'gone' });
    await expect(result).rejects.toMatchObject({ reason: 'gone' });
  });

  it('when the first group in flight loses to another process, the group behind it loses too; both are applied again, in order, as one group', async () => {
    const { sessions, calls } = fakePersistence();
    const updateRetried = jest.fn();
    (sessions.context as unknown as { observer: object }).observer = { updateRetried };
    const updates = new SessionKeyUpdates(sessions, 1);
    const settledOrder: string[] = [];
    const results = ['x', 'y', 'z'].map((item) =>
      updates.update('s1', requestSession({ items: [] }), 'items', append(item)).then((value) => {
        settledOrder.push(item);
        return value;
      }),
    );
    const [first, second] = await casCalls(calls, 2);
    expect(second).toMatchObject({ expected: '["x"]', next: '["x","y","z"]' });
    first.reply.resolve({ status: 'changed', current: '["theirs"]' });
    await tick();
    expect(calls).toHaveLength(2); // nothing is sent again until the group behind it has answered too
    second.reply.resolve({ status: 'changed', current: '["theirs"]' });
    const [, , again] = await casCalls(calls, 3);
    expect(again).toMatchObject({ expected: '["theirs"]', next: '["theirs","x","y","z"]' });
    again.reply.resolve({ status: 'written' });
    await expect(Promise.all(results)).resolves.toEqual([
      ['theirs', 'x'],
      ['theirs', 'x', 'y'],
      ['theirs', 'x', 'y', 'z'],
    ]);
    expect(settledOrder).toEqual(['x', 'y', 'z']);
    // One loss to another process (updateRetries 1 is not exceeded): the second group only followed the first.
    expect(updateRetried).toHaveBeenCalledTimes(1);
  });

  it('a group behind a written one that loses to another process counts as a conflict and is applied to what Redis answered', async () => {
    const { sessions, calls } = fakePersistence();
    const updates = new SessionKeyUpdates(sessions, 3);
    const first = updates.update('s1', requestSession({ items: [] }), 'items', append('a'));
    const second = updates.update('s1', requestSession({ items: [] }), 'items', append('b'));
    const [one, two] = await casCalls(calls, 2);
    one.reply.resolve({ status: 'written' });
    two.reply.resolve({ status: 'changed', current: '["a","theirs"]' });
    const [, , again] = await casCalls(calls, 3);
    expect(again).toMatchObject({ expected: '["a","theirs"]', next: '["a","theirs","b"]' });
    again.reply.resolve({ status: 'written' });
    await expect(first).resolves.toEqual(['a']);
    await expect(second).resolves.toEqual(['a', 'theirs', 'b']);
  });

  describe('under encryption (every seal of a value differs)', () => {
    /** A stand-in sealer: each seal is new (a counter plays the random IV); opening strips it. */
    function sealingPersistence() {
      const fake = fakePersistence();
      let seals = 0;
      Object.assign(fake.sessions.context.sealing, {
        sealValue: (_redisKey: string, _field: string, json: string | undefined) => (json === undefined ? undefined : `sealed#${++seals}:${json}`),
        openValue: (_redisKey: string, _field: string, held: string | undefined) => held?.replace(/^sealed#\d+:/, ''),
      });
      return fake;
    }

    /** A session as read under encryption: the opened JSON to diff, the sealed strings Redis held. */
    function sealedSession(items: string[], held: string): Record<string, unknown> {
      const session: Record<string, unknown> = { items, expiresAt: 1_000 };
      attachState(session, { stored: new Map([['items', JSON.stringify(items)]]), held: new Map([['items', held]]), createdAt: 0, refreshed: true });
      return session;
    }

    it('expects the sealed string the request read, never a fresh seal of its value, and writes a sealed value', async () => {
      const { sessions, calls } = sealingPersistence();
      const updates = new SessionKeyUpdates(sessions, 3);
      const session = sealedSession([], 'sealed#0:[]');
      const result = updates.update('s1', session, 'items', append('a'));
      const [call] = await casCalls(calls, 1);
      expect(call).toMatchObject({ expected: 'sealed#0:[]', next: 'sealed#1:["a"]' });
      call.reply.resolve({ status: 'written' });
      await expect(result).resolves.toEqual(['a']);
      // The request's state now says what Redis holds: the JSON to diff, the sealed string to compare.
      expect(stateOf(session)).toMatchObject({ stored: new Map([['items', '["a"]']]), held: new Map([['items', 'sealed#1:["a"]']]) });
    });

    it('applies a change again to the opened value another process wrote, expecting its sealed string', async () => {
      const { sessions, calls } = sealingPersistence();
      const updates = new SessionKeyUpdates(sessions, 3);
      const result = updates.update('s1', sealedSession([], 'sealed#0:[]'), 'items', append('mine'));
      const [first] = await casCalls(calls, 1);
      first.reply.resolve({ status: 'changed', current: 'sealed#99:["theirs"]' });
      const [, second] = await casCalls(calls, 2);
      expect(second).toMatchObject({ expected: 'sealed#99:["theirs"]', next: 'sealed#2:["theirs","mine"]' });
      second.reply.resolve({ status: 'written' });
      await expect(result).resolves.toEqual(['theirs', 'mine']);
    });

    it('sends the group queued behind a write in flight expecting the sealed string that write leaves', async () => {
      const { sessions, calls } = sealingPersistence();
      const updates = new SessionKeyUpdates(sessions, 3);
      const results = ['a', 'b'].map((item) => updates.update('s1', sealedSession([], 'sealed#0:[]'), 'items', append(item)));
      const [head, group] = await casCalls(calls, 2);
      expect(group).toMatchObject({ expected: head.next, next: 'sealed#2:["a","b"]' });
      head.reply.resolve({ status: 'written' });
      group.reply.resolve({ status: 'written' });
      await expect(Promise.all(results)).resolves.toEqual([['a'], ['a', 'b']]);
    });
  });
});
