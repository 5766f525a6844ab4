import { SessionConflictError } from '../errors/session-conflict.error';
import { UnopenableSessionError } from '../store/session-codec';
import { attachState, stateOf } from '../store/session-state';
import { putTrackedValues } from '../store/tracked-values';
import { append, casCalls, fakePersistence, gate, requestSession, tick } from '../../../../test/support/key-update-fakes';
import { SessionKeyUpdates } from './atomic-update';

/** What a group's compare-and-set sends besides the value, and how its reply is settled (`KeyGroupWrites`). */
describe('KeyGroupWrites', () => {
  /** The fake persistence, with an observer that records what it hears. */
  function observed() {
    const fake = fakePersistence();
    const heard: string[] = [];
    (fake.sessions.context as unknown as { observer: object }).observer = {
      updateRetried: () => heard.push('retried'),
      updateGaveUp: () => heard.push('gaveUp'),
    };
    return { ...fake, heard };
  }

  it('tells the observer of a retry while the budget lasts, and of giving up once it is spent, never both for one loss', async () => {
    const { sessions, calls, heard } = observed();
    const updates = new SessionKeyUpdates(sessions, 1);
    const result = updates.update('s1', requestSession({ n: 0 }), 'n', (n: number | undefined) => (n ?? 0) + 1).catch((error: unknown) => error);
    (await casCalls(calls, 1))[0].reply.resolve({ status: 'changed', current: '10' });
    expect((await casCalls(calls, 2))[1]).toMatchObject({ expected: '10', next: '11' });
    expect(heard).toEqual(['retried']);
    calls[1].reply.resolve({ status: 'changed', current: '20' });
    await expect(result).resolves.toMatchObject({ name: 'SessionConflictError', reason: 'contention' });
    expect(heard).toEqual(['retried', 'gaveUp']);
  });

  it('counts each call of a group that lost: a retry for each, then giving up for each, as many as there were calls', async () => {
    const { sessions, calls, heard } = observed();
    const updates = new SessionKeyUpdates(sessions, 1);
    const session = requestSession({ items: [] });
    const results = ['a', 'b', 'c'].map((item) => updates.update('s1', session, 'items', append(item)).catch((error: unknown) => error));
    const [first, second] = await casCalls(calls, 2); // 'a' alone, then 'b' and 'c' as one group behind it
    expect(second).toMatchObject({ expected: '["a"]', next: '["a","b","c"]' });
    first.reply.resolve({ status: 'written' });
    second.reply.resolve({ status: 'changed', current: '["theirs"]' });
    const [, , again] = await casCalls(calls, 3);
    expect(heard).toEqual(['retried', 'retried']);
    again.reply.resolve({ status: 'changed', current: '["theirs","again"]' });
    const [a, b, c] = await Promise.all(results);
    expect(a).toEqual(['a']);
    for (const lost of [b, c]) expect(lost).toMatchObject({ name: 'SessionConflictError', reason: 'contention' });
    expect(heard).toEqual(['retried', 'retried', 'gaveUp', 'gaveUp']);
  });

  it("rejects with 'gone' when the value another process wrote does not open, and writes no more", async () => {
    const { sessions, calls } = fakePersistence();
    (sessions.context.sealing as { openValue: unknown }).openValue = (_redisKey: string, _field: string, held: string | undefined) => {
      if (held === 'garbled') throw new UnopenableSessionError('does not open');
      return held;
    };
    const updates = new SessionKeyUpdates(sessions, 3);
    const result = updates.update('s1', requestSession({ items: [] }), 'items', append('a'));
    (await casCalls(calls, 1))[0].reply.resolve({ status: 'changed', current: 'garbled' });
    const error = await result.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionConflictError);
    expect(error).toMatchObject({ reason: 'gone' });
    expect(calls).toHaveLength(1);
  });

  it("stamps the last-seen time only for a session that keeps one, and slides the expiry and the user index's only when the write moves it ahead", async () => {
    const { sessions, calls } = fakePersistence();
    const pushed: number[] = [];
    const indexPush = gate();
    (sessions as unknown as { indexKeeper: object }).indexKeeper = {
      pushExpiry: (_state: unknown, expiresAt: number) => {
        pushed.push(expiresAt);
        return indexPush.promise;
      },
    };
    const updates = new SessionKeyUpdates(sessions, 3);
    const later = Date.now() + 60_000;
    const tracked = requestSession({ n: 0, ':s': 1 }, later);
    stateOf(tracked)!.indexEntry = { userId: 'u1', digest: 'd1' };
    let settled = false;
    const result = updates
      .update('s1', tracked, 'n', () => 1)
      .then((value) => {
        settled = true;
        return value;
      });
    const [call] = await casCalls(calls, 1);
    expect(call).toMatchObject({ expiresAt: later, minGain: 0 });
    expect((call as unknown as { lastSeenAt?: number }).lastSeenAt).toEqual(expect.any(Number));
    expect(pushed).toEqual([later]);
    call.reply.resolve({ status: 'written' });
    await tick();
    expect(settled).toBe(false); // the write waits for the index's push too
    indexPush.resolve();
    await expect(result).resolves.toBe(1);
    expect(stateOf(tracked)!.expiresAt).toBe(later);

    // A session without a last-seen field, whose expiry is already past: no stamp, no slide, no push.
    const plain = requestSession({ n: 0 }, 5_000);
    stateOf(plain)!.indexEntry = { userId: 'u1', digest: 'd2' };
    stateOf(plain)!.expiresAt = 4_000;
    const second = updates.update('s2', plain, 'n', () => 2);
    const [, call2] = await casCalls(calls, 2);
    expect((call2 as unknown as { lastSeenAt?: number }).lastSeenAt).toBeUndefined();
    expect(pushed).toEqual([later]);
    call2.reply.resolve({ status: 'written' });
    await expect(second).resolves.toBe(2);
    expect(stateOf(plain)!.expiresAt).toBe(4_000);
  });

  it("pushes the user index's expiry through the first session of a group that keeps an index entry", async () => {
    const { sessions, calls } = fakePersistence();
    const pushedFor: unknown[] = [];
    (sessions as unknown as { indexKeeper: object }).indexKeeper = {
      pushExpiry: (state: unknown) => {
        pushedFor.push(state);
        return undefined;
      },
    };
    const updates = new SessionKeyUpdates(sessions, 3);
    const later = Date.now() + 60_000;
    const ahead = updates.update('s1', requestSession({ n: 0 }, later), 'n', () => 1);
    const [first] = await casCalls(calls, 1);
    pushedFor.length = 0;
    // Queued behind the first, so sent as one group: a session with no entry, then two that keep one.
    const sessionsOfGroup = [requestSession({ n: 0 }, later), requestSession({ n: 0 }, later), requestSession({ n: 0 }, later)];
    stateOf(sessionsOfGroup[1])!.indexEntry = { userId: 'u1', digest: 'd1' };
    stateOf(sessionsOfGroup[2])!.indexEntry = { userId: 'u1', digest: 'd1' };
    const group = sessionsOfGroup.map((session, i) => updates.update('s1', session, 'n', () => 2 + i));
    const [, behind] = await casCalls(calls, 2);
    expect(pushedFor).toEqual([stateOf(sessionsOfGroup[1])]);
    expect(pushedFor[0]).toBe(stateOf(sessionsOfGroup[1]));
    first.reply.resolve({ status: 'written' });
    behind.reply.resolve({ status: 'written' });
    await Promise.all([ahead, ...group]);
  });

  it("gives a session read with tracked values its own copy of the value written, never the caller's result", async () => {
    const { sessions, calls } = fakePersistence();
    const updates = new SessionKeyUpdates(sessions, 3);
    const session: Record<string, unknown> = { expiresAt: 1_000 };
    attachState(session, { stored: new Map([['items', '["read"]']]), createdAt: 0, refreshed: true });
    putTrackedValues(session, { items: ['read'] }, stateOf(session)!);
    const result = updates.update('s1', session, 'items', append('a'));
    (await casCalls(calls, 1))[0].reply.resolve({ status: 'written' });
    const items = await result;
    items.push('changed by the caller afterwards'); // must not reach the end-of-request save
    expect(session.items).toEqual(['read', 'a']);
  });

  describe('a group that meets a renewal (moved)', () => {
    function renewing(successor: string | undefined, held: string | undefined) {
      const fake = fakePersistence();
      const read: string[] = [];
      Object.assign(fake.sessions, { forwarding: { successorOf: (id: string) => Promise.resolve(id === 's1' ? successor : undefined) } });
      Object.assign(fake.sessions.gateway, {
        readField: (redisKey: string, field: string) => {
          read.push(`${redisKey} ${field}`);
          return Promise.resolve(held);
        },
      });
      return { ...fake, read };
    }

    it("goes again under the successor, from the value it holds, and the request answers with the successor's ID", async () => {
      const { sessions, calls, read } = renewing('s2', '["there"]');
      const updates = new SessionKeyUpdates(sessions, 0);
      const session = requestSession({ items: [] });
      const result = updates.update('s1', session, 'items', append('a'));
      (await casCalls(calls, 1))[0].reply.resolve({ status: 'moved' });
      const [, again] = await casCalls(calls, 2);
      expect(read).toEqual(['sess:s2 items']);
      expect(again).toMatchObject({ redisKey: 'sess:s2', field: 'items', expected: '["there"]', next: '["there","a"]' });
      again.reply.resolve({ status: 'written' });
      await expect(result).resolves.toEqual(['there', 'a']); // no retry counted: updateRetries 0 is not exceeded
      expect(stateOf(session)!.renewedId).toBe('s2');
    });

    it("rejects with 'gone' when the renewed session has no successor any more", async () => {
      const { sessions, calls, read } = renewing(undefined, undefined);
      const updates = new SessionKeyUpdates(sessions, 3);
      const result = updates.update('s1', requestSession({ items: [] }), 'items', append('a'));
      (await casCalls(calls, 1))[0].reply.resolve({ status: 'moved' });
      await expect(result).rejects.toMatchObject({ name: 'SessionConflictError', reason: 'gone' });
      expect(read).toEqual([]);
      expect(calls).toHaveLength(1);
    });
  });

  it('gives each caller of a written group its own result as stored and held: a seal of its own value under encryption, the last one the seal Redis holds', async () => {
    const { sessions, calls } = fakePersistence();
    let seals = 0;
    Object.assign(sessions.context.sealing, {
      sealValue: (_redisKey: string, _field: string, json: string | undefined) => (json === undefined ? undefined : `sealed#${++seals}:${json}`),
      openValue: (_redisKey: string, _field: string, held: string | undefined) => held?.replace(/^sealed#\d+:/, ''),
    });
    const sealed = () => {
      const session = requestSession({ items: [] });
      stateOf(session)!.held = new Map([['items', 'sealed#0:[]']]);
      return session;
    };
    const updates = new SessionKeyUpdates(sessions, 3);
    const requests = [sealed(), sealed(), sealed()];
    const results = requests.map((session, i) => updates.update('s1', session, 'items', append(`i${i}`)));
    const [head, group] = await casCalls(calls, 2);
    head.reply.resolve({ status: 'written' });
    group.reply.resolve({ status: 'written' });
    await Promise.all(results);
    expect(group.next).toBe('sealed#2:["i0","i1","i2"]');
    const [, middle, last] = requests.map((session) => stateOf(session)!);
    expect(middle.stored!.get('items')).toBe('["i0","i1"]');
    expect(middle.held!.get('items')).toMatch(/^sealed#\d+:\["i0","i1"\]$/);
    expect(last.held!.get('items')).toBe(group.next);
  });

  it('a change answering undefined deletes the field from the session, its stored JSON and its held seal', async () => {
    const { sessions, calls } = fakePersistence();
    const updates = new SessionKeyUpdates(sessions, 3);
    const session = requestSession({ items: ['a'], other: 1 });
    stateOf(session)!.held = new Map([['items', '["a"]']]);
    const result = updates.update('s1', session, 'items', () => undefined);
    const [call] = await casCalls(calls, 1);
    expect(call).toMatchObject({ expected: '["a"]', next: undefined });
    call.reply.resolve({ status: 'written' });
    await expect(result).resolves.toBeUndefined();
    expect('items' in session).toBe(false);
    expect(stateOf(session)!.stored!.has('items')).toBe(false);
    expect(stateOf(session)!.held!.has('items')).toBe(false);
    expect(session.other).toBe(1);
  });

  it('a failed read of the successor rejects the group with that failure', async () => {
    const { sessions, calls } = fakePersistence();
    Object.assign(sessions, { forwarding: { successorOf: () => Promise.resolve('s2') } });
    Object.assign(sessions.gateway, { readField: () => Promise.reject(new Error('Redis is down')) });
    const updates = new SessionKeyUpdates(sessions, 3);
    const result = updates.update('s1', requestSession({ items: [] }), 'items', append('a'));
    (await casCalls(calls, 1))[0].reply.resolve({ status: 'moved' });
    await expect(result).rejects.toThrow('Redis is down');
    expect(calls).toHaveLength(1);
  });

  it('stamps the last-seen time when any session of the group keeps one', async () => {
    const { sessions, calls } = fakePersistence();
    const updates = new SessionKeyUpdates(sessions, 3);
    const results = [requestSession({ n: 0 }), requestSession({ n: 0 }), requestSession({ n: 0, ':s': 1 })].map((session, i) =>
      updates.update('s1', session, 'n', () => i),
    );
    const [head, group] = await casCalls(calls, 2);
    expect((head as unknown as { lastSeenAt?: number }).lastSeenAt).toBeUndefined();
    expect((group as unknown as { lastSeenAt?: number }).lastSeenAt).toEqual(expect.any(Number));
    head.reply.resolve({ status: 'written' });
    group.reply.resolve({ status: 'written' });
    await Promise.all(results);
  });

  describe('the slide a write makes, from the expiries its sessions were known to have', () => {
    function indexed() {
      const fake = fakePersistence();
      const pushed: number[] = [];
      (fake.sessions as unknown as { indexKeeper: object }).indexKeeper = {
        pushExpiry: (_state: unknown, expiresAt: number) => {
          pushed.push(expiresAt);
          return Promise.resolve();
        },
      };
      return { ...fake, pushed };
    }
    function known(expiresAt: number, knownExpiry: number | undefined) {
      const session = requestSession({ n: 0 }, expiresAt);
      Object.assign(stateOf(session)!, { expiresAt: knownExpiry, indexEntry: { userId: 'u1', digest: 'd1' } });
      return session;
    }

    it('does not slide when the latest expiry known of the group is already the one the write gives', async () => {
      const { sessions, calls, pushed } = indexed();
      const updates = new SessionKeyUpdates(sessions, 3);
      const at = Date.now() + 60_000;
      const first = known(at, at - 30_000);
      const results = [first, known(at, at), known(at - 2_000, at - 5_000)].map((session, i) => updates.update('s1', session, 'n', () => i));
      const [head, group] = await casCalls(calls, 2);
      expect(pushed).toEqual([at]); // the first moves its session's expiry; the group behind knows one at `at` already
      head.reply.resolve({ status: 'written' });
      group.reply.resolve({ status: 'written' });
      await Promise.all(results);
      expect(group.expiresAt).toBe(at);
    });

    it("slides to the group's expiry when every session of the group knew an earlier one", async () => {
      const { sessions, calls, pushed } = indexed();
      (sessions.context as unknown as { slides: { touchAfter: number } }).slides.touchAfter = 1_000;
      const updates = new SessionKeyUpdates(sessions, 3);
      const at = Date.now() + 60_000;
      const results = [known(at, at - 10_000), known(at, at - 500)].map((session, i) => updates.update('s1', session, 'n', () => i));
      const [head, group] = await casCalls(calls, 2);
      // The first gains 10 s (more than touchAfter): it slides. The second knows an expiry 500 ms short of it: no slide is due.
      expect(pushed).toEqual([at]);
      head.reply.resolve({ status: 'written' });
      group.reply.resolve({ status: 'written' });
      await Promise.all(results);
    });

    it('does not slide an expiry that is due now', async () => {
      const { sessions, calls, pushed } = indexed();
      const now = Date.now();
      const spy = jest.spyOn(Date, 'now').mockReturnValue(now);
      try {
        const updates = new SessionKeyUpdates(sessions, 3);
        const session = known(now, undefined);
        const result = updates.update('s1', session, 'n', () => 1);
        (await casCalls(calls, 1))[0].reply.resolve({ status: 'written' });
        await result;
        expect(pushed).toEqual([]);
        expect(stateOf(session)!.expiresAt).toBeUndefined();
      } finally {
        spy.mockRestore();
      }
    });
  });

  describe('what a queue knows Redis holds, for an update that arrives as a group settles', () => {
    /** An update a caller makes from its handler of another's result: the queue is still there, with nothing in flight. */
    async function nextExpectation(reply: 'written' | 'gone' | 'garbled' | 'moved-unread') {
      const { sessions, calls } = fakePersistence();
      (sessions.context.sealing as { openValue: unknown }).openValue = (_redisKey: string, _field: string, held: string | undefined) => {
        if (held === 'garbled') throw new UnopenableSessionError('does not open');
        return held;
      };
      Object.assign(sessions, { forwarding: { successorOf: () => Promise.resolve('s2') } });
      Object.assign(sessions.gateway, { readField: () => Promise.reject(new Error('Redis is down')) });
      const updates = new SessionKeyUpdates(sessions, 3);
      let later: Promise<unknown> | undefined;
      const retry = () => {
        later = updates.update('s1', requestSession({ items: ['read'] }), 'items', append('later'));
      };
      void updates.update('s1', requestSession({ items: [] }), 'items', append('first')).then(retry, retry);
      const [call] = await casCalls(calls, 1);
      if (reply === 'written') call.reply.resolve({ status: 'written' });
      else if (reply === 'gone') call.reply.resolve({ status: 'gone' });
      else if (reply === 'garbled') call.reply.resolve({ status: 'changed', current: 'garbled' });
      else call.reply.resolve({ status: 'moved' });
      const [, next] = await casCalls(calls, 2);
      next.reply.resolve({ status: 'written' });
      await later;
      return next.expected;
    }

    it('after a write: the value written', async () => {
      await expect(nextExpectation('written')).resolves.toBe('["first"]');
    });

    it("after 'gone', a value that does not open, or a successor that could not be read: the update's own read", async () => {
      await expect(nextExpectation('gone')).resolves.toBe('["read"]');
      await expect(nextExpectation('garbled')).resolves.toBe('["read"]');
      await expect(nextExpectation('moved-unread')).resolves.toBe('["read"]');
    });
  });

  it('looks the successor up once for the groups of a queue that a renewal moved', async () => {
    const { sessions, calls } = fakePersistence();
    const lookups: string[] = [];
    Object.assign(sessions, {
      forwarding: {
        successorOf: (id: string) => {
          lookups.push(id);
          return Promise.resolve('s2');
        },
      },
    });
    Object.assign(sessions.gateway, { readField: () => Promise.resolve('["there"]') });
    const updates = new SessionKeyUpdates(sessions, 3);
    const results = ['a', 'b'].map((item) => updates.update('s1', requestSession({ items: [] }), 'items', append(item)));
    const [head, behind] = await casCalls(calls, 2);
    head.reply.resolve({ status: 'moved' });
    behind.reply.resolve({ status: 'moved' });
    const [, , again] = await casCalls(calls, 3);
    expect(again).toMatchObject({ redisKey: 'sess:s2', expected: '["there"]', next: '["there","a","b"]' });
    again.reply.resolve({ status: 'written' });
    await expect(Promise.all(results)).resolves.toEqual([
      ['there', 'a'],
      ['there', 'a', 'b'],
    ]);
    expect(lookups).toEqual(['s1']);
  });
});
