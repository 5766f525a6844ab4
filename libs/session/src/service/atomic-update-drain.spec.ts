import { attachState } from '../store/session-state';
import { append, casCalls, fakePersistence, gate, requestSession, tick } from '../../../../test/support/key-update-fakes';
import { SessionKeyUpdates } from './atomic-update';

/** How the drain of one key's queue orders its groups: what may fly at once, what waits, and how retries pause. */
describe('SessionKeyUpdates drain', () => {
  /** A session as a request creates it, never stored yet. */
  function unstored(): Record<string, unknown> {
    const session: Record<string, unknown> = { expiresAt: 1_000 };
    attachState(session, { stored: null, createdAt: 0, refreshed: true });
    return session;
  }

  it('never has three groups of a key in flight, even when updates arrive while a change is still running', async () => {
    const { sessions, calls } = fakePersistence();
    const updates = new SessionKeyUpdates(sessions, 3);
    const first = updates.update('s1', requestSession({ n: 0 }), 'n', () => 1);
    await casCalls(calls, 1);
    const slow = gate<number>();
    const second = updates.update('s1', requestSession({ n: 0 }), 'n', () => slow.promise);
    for (let i = 0; i < 5; i++) await tick(); // its group is formed, its change runs
    const third = updates.update('s1', requestSession({ n: 0 }), 'n', (n: number | undefined) => (n ?? 0) + 1); // arrives while the change of the second runs
    slow.resolve(2);
    await casCalls(calls, 2);
    for (let i = 0; i < 5; i++) await tick();
    expect(calls).toHaveLength(2);
    calls[0].reply.resolve({ status: 'written' });
    const [, , last] = await casCalls(calls, 3);
    expect(last).toMatchObject({ expected: '2', next: '3' });
    calls[1].reply.resolve({ status: 'written' });
    last.reply.resolve({ status: 'written' });
    await expect(Promise.all([first, second, third])).resolves.toEqual([1, 2, 3]);
  });

  it('answers every update it holds when something it trusts throws, and starts afresh with the next', async () => {
    const { sessions, calls } = fakePersistence();
    const sealing = (sessions.context as unknown as { sealing: { sealValue: (...args: unknown[]) => unknown } }).sealing;
    const seal = sealing.sealValue;
    const updates = new SessionKeyUpdates(sessions, 3);
    const inFlight = updates.update('s1', requestSession({ n: 0 }), 'n', () => 1);
    await casCalls(calls, 1);
    const broken = new TypeError('a sealer that throws');
    sealing.sealValue = () => {
      throw broken;
    };
    const sending = updates.update('s1', requestSession({ n: 0 }), 'n', () => 2);
    await expect(sending).rejects.toBe(broken);
    await expect(inFlight).rejects.toBe(broken); // its write may still land, as after a timeout: never a silent wait
    sealing.sealValue = seal;
    const next = updates.update('s1', requestSession({ n: 5 }), 'n', (n: number | undefined) => (n ?? 0) + 1);
    const [, call] = await casCalls(calls, 2);
    expect(call).toMatchObject({ expected: '5', next: '6' });
    call.reply.resolve({ status: 'written' });
    await expect(next).resolves.toBe(6);
  });

  it('writes a never-stored session whole only once the group in flight ahead of it has answered', async () => {
    const { sessions, calls } = fakePersistence();
    const updates = new SessionKeyUpdates(sessions, 3);
    const stored = updates.update('s1', requestSession({ items: [] }), 'items', append('a'));
    const [call] = await casCalls(calls, 1);
    const fresh = unstored();
    const created = updates.update('s1', fresh, 'items', append('new'));
    for (let i = 0; i < 5; i++) await tick();
    expect(sessions.writer.saveChanges).not.toHaveBeenCalled();
    call.reply.resolve({ status: 'written' });
    await expect(stored).resolves.toEqual(['a']);
    await expect(created).resolves.toEqual(['new']);
    expect(sessions.writer.saveChanges).toHaveBeenCalledWith('s1', fresh);
  });

  it('when the group ahead of a never-stored session meets a renewal, writes that session only once the queue follows the renewal', async () => {
    const { sessions, calls } = fakePersistence();
    let successorRead!: () => void;
    const reading = new Promise<void>((resolve) => (successorRead = resolve));
    Object.assign(sessions, { forwarding: { successorOf: () => reading.then(() => 's2') } });
    Object.assign(sessions.gateway, { readField: () => Promise.resolve('[]') });
    const updates = new SessionKeyUpdates(sessions, 3);
    const stored = updates.update('s1', requestSession({ items: [] }), 'items', append('a'));
    const [call] = await casCalls(calls, 1);
    const fresh = unstored();
    const created = updates.update('s1', fresh, 'items', append('new'));
    call.reply.resolve({ status: 'moved' }); // renewed meanwhile: the queue looks its successor up
    for (let i = 0; i < 5; i++) await tick();
    expect(sessions.writer.saveChanges).not.toHaveBeenCalled(); // not while the successor is unknown
    successorRead();
    const [, again] = await casCalls(calls, 2);
    expect(again).toMatchObject({ redisKey: expect.stringContaining('s2') as unknown, expected: '[]', next: '["a"]' });
    again.reply.resolve({ status: 'written' });
    await expect(stored).resolves.toEqual(['a']);
    await expect(created).resolves.toEqual(['new']);
    expect(sessions.writer.saveChanges).toHaveBeenCalledWith('s2', fresh);
  });

  it('sends the stored sessions queued ahead of a never-stored one as a group, then writes the never-stored one whole, then the rest', async () => {
    const { sessions, calls } = fakePersistence();
    const updates = new SessionKeyUpdates(sessions, 3);
    const head = updates.update('s1', requestSession({ items: [] }), 'items', append('a'));
    await casCalls(calls, 1);
    const fresh = unstored();
    const results = [
      updates.update('s1', requestSession({ items: [] }), 'items', append('b')),
      updates.update('s1', fresh, 'items', append('new')),
      updates.update('s1', requestSession({ items: [] }), 'items', append('c')),
    ];
    const [first, group] = await casCalls(calls, 2);
    expect(group).toMatchObject({ expected: '["a"]', next: '["a","b"]' });
    first.reply.resolve({ status: 'written' });
    group.reply.resolve({ status: 'written' });
    const [, , after] = await casCalls(calls, 3);
    expect(sessions.writer.saveChanges).toHaveBeenCalledWith('s1', fresh);
    expect(fresh.items).toEqual(['new']);
    // What Redis holds after the whole write is not known here: the last one starts from its own read.
    expect(after).toMatchObject({ expected: '[]', next: '["c"]' });
    after.reply.resolve({ status: 'written' });
    await expect(head).resolves.toEqual(['a']);
    await expect(Promise.all(results)).resolves.toEqual([['a', 'b'], ['new'], ['c']]);
  });

  it('sends nothing for a group whose every change failed, and goes on with the updates behind it', async () => {
    const { sessions, calls } = fakePersistence();
    const updates = new SessionKeyUpdates(sessions, 3);
    const head = updates.update('s1', requestSession({ items: [] }), 'items', append('a'));
    await casCalls(calls, 1);
    const failed = updates
      .update('s1', requestSession({ items: [] }), 'items', () => {
        throw new Error('refused');
      })
      .catch((error: unknown) => error);
    await expect(failed).resolves.toMatchObject({ message: 'refused' });
    for (let i = 0; i < 5; i++) await tick();
    expect(calls).toHaveLength(1);
    const later = updates.update('s1', requestSession({ items: [] }), 'items', append('b'));
    const [first, second] = await casCalls(calls, 2);
    expect(second).toMatchObject({ expected: '["a"]', next: '["a","b"]' });
    first.reply.resolve({ status: 'written' });
    second.reply.resolve({ status: 'written' });
    await expect(Promise.all([head, later])).resolves.toEqual([['a'], ['a', 'b']]);
  });

  it('sends the updates answered in one turn of the event loop, while a group flies, as one group behind it', async () => {
    const { sessions, calls } = fakePersistence();
    const updates = new SessionKeyUpdates(sessions, 3);
    const head = updates.update('s1', requestSession({ items: [] }), 'items', append('a'));
    await casCalls(calls, 1);
    const burst: Promise<unknown>[] = [];
    // Two requests answered in one turn of the event loop: the first wakes the drain, the second still joins its group.
    setImmediate(() => burst.push(updates.update('s1', requestSession({ items: [] }), 'items', append('b'))));
    setImmediate(() => burst.push(updates.update('s1', requestSession({ items: [] }), 'items', append('c'))));
    const [first, group] = await casCalls(calls, 2);
    expect(group).toMatchObject({ expected: '["a"]', next: '["a","b","c"]' });
    first.reply.resolve({ status: 'written' });
    group.reply.resolve({ status: 'written' });
    await expect(Promise.all([head, ...burst])).resolves.toEqual([['a'], ['a', 'b'], ['a', 'b', 'c']]);
  });

  describe('the pause before a retry (fake timers)', () => {
    beforeEach(() => jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] }));
    afterEach(() => jest.useRealTimers());
    const settle = async () => {
      for (let i = 0; i < 20; i++) await tick();
    };

    it('counts only losses to another process towards the pause, not a group lost behind another', async () => {
      const { sessions, calls } = fakePersistence();
      const updates = new SessionKeyUpdates(sessions, 20);
      const inc = (n: number | undefined) => (n ?? 0) + 1;
      const first = updates.update('s1', requestSession({ n: 0 }), 'n', inc);
      await settle();
      const second = updates.update('s1', requestSession({ n: 0 }), 'n', inc);
      await settle();
      expect(calls).toHaveLength(2); // pipelined
      calls[0].reply.resolve({ status: 'changed', current: '10' }); // a loss to another process: 1
      calls[1].reply.resolve({ status: 'changed', current: '10' }); // lost behind it: not counted
      await settle();
      expect(calls).toHaveLength(3);
      calls[2].reply.resolve({ status: 'changed', current: '20' }); // 2: retried at once
      await settle();
      expect(calls).toHaveLength(4);
      calls[3].reply.resolve({ status: 'written' }); // the count starts again
      await expect(Promise.all([first, second])).resolves.toEqual([21, 22]);
    });

    it('restarts the count after a write within one drain', async () => {
      const { sessions, calls } = fakePersistence();
      const updates = new SessionKeyUpdates(sessions, 20);
      const inc = (n: number | undefined) => (n ?? 0) + 1;
      const first = updates.update('s1', requestSession({ n: 0 }), 'n', inc);
      await settle();
      calls[0].reply.resolve({ status: 'changed', current: '10' }); // 1
      await settle();
      calls[1].reply.resolve({ status: 'changed', current: '20' }); // 2
      await settle();
      expect(calls).toHaveLength(3);
      const second = updates.update('s1', requestSession({ n: 0 }), 'n', inc); // sent behind the third attempt
      await settle();
      expect(calls).toHaveLength(4);
      calls[2].reply.resolve({ status: 'written' }); // the count starts again
      calls[3].reply.resolve({ status: 'changed', current: '30' }); // 1: retried at once
      await settle();
      expect(calls).toHaveLength(5);
      calls[4].reply.resolve({ status: 'changed', current: '40' }); // 2: retried at once
      await settle();
      expect(calls).toHaveLength(6);
      calls[5].reply.resolve({ status: 'written' });
      await expect(Promise.all([first, second])).resolves.toEqual([21, 41]);
    });

    it('sends an update that arrives after a group gave up at once: only a retry pauses', async () => {
      const { sessions, calls } = fakePersistence();
      const updates = new SessionKeyUpdates(sessions, 2);
      let later: Promise<unknown> | undefined;
      const gaveUp = updates
        .update('s1', requestSession({ n: 0 }), 'n', (n: number | undefined) => (n ?? 0) + 1)
        .catch((error: unknown) => {
          later = updates.update('s1', requestSession({ n: 5 }), 'n', (n: number | undefined) => (n ?? 0) + 1);
          return error;
        });
      for (let conflict = 1; conflict <= 3; conflict++) {
        await settle();
        calls[calls.length - 1].reply.resolve({ status: 'changed', current: String(conflict * 10) });
      }
      await expect(gaveUp).resolves.toMatchObject({ reason: 'contention' });
      await settle();
      expect(calls).toHaveLength(4); // sent without any timer firing
      expect(calls[3]).toMatchObject({ expected: '30', next: '31' }); // from what Redis answered last
      calls[3].reply.resolve({ status: 'written' });
      await expect(later).resolves.toBe(31);
    });

    it('pauses a random time up to 2 ms, 8 ms, 32 ms, then at most 50 ms, as the losses in a row grow', async () => {
      const random = jest.spyOn(Math, 'random').mockReturnValue(0.999);
      const timeout = jest.spyOn(global, 'setTimeout');
      try {
        const { sessions, calls } = fakePersistence();
        const updates = new SessionKeyUpdates(sessions, 20);
        const result = updates.update('s1', requestSession({ n: 0 }), 'n', (n: number | undefined) => (n ?? 0) + 1);
        for (let conflict = 1; conflict <= 9; conflict++) {
          await settle();
          calls[calls.length - 1].reply.resolve({ status: 'changed', current: String(conflict * 10) });
          await settle();
          jest.runOnlyPendingTimers();
        }
        await settle();
        calls[calls.length - 1].reply.resolve({ status: 'written' });
        await expect(result).resolves.toBe(91);
        const delays = timeout.mock.calls.map(([, ms]) => ms as number);
        expect(delays.map((ms) => Math.round(ms))).toEqual([2, 8, 32, 50]);
      } finally {
        random.mockRestore();
        jest.restoreAllMocks();
      }
    });
  });
});
