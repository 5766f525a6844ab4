import { SessionConflictError } from '../errors/session-conflict.error';
import { SessionDataError } from '../errors/session-data.error';
import type { CompareAndSetReply } from '../redis/session-gateway';
import { attachState, stateOf } from '../store/session-state';
import type { SessionPersistence } from '../store/session-persistence';
import { SessionKeyUpdates } from './atomic-update';

/** A promise the test resolves or rejects by hand. */
function gate<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

interface CasCall {
  redisKey: string;
  field: string;
  expected: string | undefined;
  next: string | undefined;
  expiresAt: number;
  reply: ReturnType<typeof gate<CompareAndSetReply>>;
}

/**
 * Just what `SessionKeyUpdates` uses of `SessionPersistence`; each compare-and-set waits until the
 * test answers it, so the test decides what is in flight while updates queue up.
 */
function fakePersistence() {
  const calls: CasCall[] = [];
  const sessions = {
    maxSessionBytes: 1_000,
    redisKeyOf: (sessionId: string) => `sess:${sessionId}`,
    stateFor: (session: object) => stateOf(session)!,
    expiryOf: (session: { expiresAt: number }) => {
      // As the real one does for a cookie app code broke (an invalid maxAge or expires).
      if (!Number.isFinite(session.expiresAt)) throw new SessionDataError('invalid expiry', 'cookie');
      return session.expiresAt;
    },
    saveChanges: jest.fn(),
    // Without encryption: Redis holds each value's JSON itself.
    sealValue: (_redisKey: string, _field: string, json: string | undefined) => json,
    openValue: (_redisKey: string, _field: string, held: string | undefined) => held,
    gateway: {
      compareAndSet: (args: Omit<CasCall, 'reply'>) => {
        const reply = gate<CompareAndSetReply>();
        calls.push({ ...args, reply });
        return reply.promise;
      },
    },
  };
  return { sessions: sessions as unknown as SessionPersistence, calls };
}

/** A session object as one request read it: `fields` is what Redis held then. */
function requestSession(fields: Record<string, unknown>, expiresAt = 1_000): Record<string, unknown> {
  const session: Record<string, unknown> = { ...fields, expiresAt };
  const stored = new Map(Object.entries(fields).map(([key, value]) => [key, JSON.stringify(value)]));
  attachState(session, { stored, createdAt: 0, refreshed: true });
  return session;
}

const append = (item: string) => (items: string[] | undefined) => [...(items ?? []), item];

/** Waits until the fake has seen `count` compare-and-sets (a retry may first pause a few ms). */
async function casCalls(calls: CasCall[], count: number): Promise<CasCall[]> {
  for (let i = 0; i < 200 && calls.length < count; i++) await new Promise((resolve) => setTimeout(resolve, 1));
  expect(calls).toHaveLength(count);
  return calls;
}

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
    await tick();
    expect(updates.pendingKeys).toBe(0);
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

  it('when the first group in flight loses to another process, the group behind it loses too; both are applied again, in order, as one group', async () => {
    const { sessions, calls } = fakePersistence();
    const updateRetried = jest.fn();
    (sessions as unknown as { observer: object }).observer = { updateRetried };
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
    await tick();
    expect(updates.pendingKeys).toBe(0);
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
    await casCalls(calls, 3); // all three in flight at once
    expect(updates.pendingKeys).toBe(3);
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

  describe('under encryption (every seal of a value differs)', () => {
    /** A stand-in sealer: each seal is new (a counter plays the random IV); opening strips it. */
    function sealingPersistence() {
      const fake = fakePersistence();
      let seals = 0;
      Object.assign(fake.sessions, {
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
