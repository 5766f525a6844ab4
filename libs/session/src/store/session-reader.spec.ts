import { resolveStoreOptions } from '../options/resolve-store-options';
import { FIELD } from '../redis/session-fields';
import type { StoredFields } from '../redis/session-gateway';
import { SessionObservers, type SessionObserver } from '../redis/session-observer';
import { SessionContext } from './session-context';
import { MAX_HOPS, type SessionForwarding } from './session-forwarding';
import { SessionReader } from './session-reader';
import type { SessionSlides } from './session-slides';
import { stateOf } from './session-state';
import type { SessionCache, UserIndexKeeper } from './store-ports';

/*
 * The read (session-reader.ts) over fakes: one HGETALL per key, the hash adopted into a session, a
 * renewed session's successor followed, and the near cache asked first, filled after a miss.
 */

const IDLE = 30 * 60_000;
const TOUCH_AFTER = 60_000;

/** A session's hash as a save leaves it: created a second ago, its expiry a full window away. */
function hash(more: StoredFields = {}, now = Date.now()): StoredFields {
  return { [FIELD.createdAt]: String(now - 1_000), [FIELD.expiresAt]: String(now + IDLE), n: '1', ...more };
}

interface Setup {
  reader: SessionReader;
  context: SessionContext;
  /** What Redis holds, by session ID; a key not here reads as null. */
  redis: Map<string, StoredFields | 'wrongType'>;
  readSession: jest.Mock;
  slides: { slide: jest.Mock; dropPastDeadline: jest.Mock };
  successorFrom: jest.Mock;
  logger: { warn: jest.Mock; error: jest.Mock };
  key(id: string): string;
  digest(id: string): string;
}

function setup(more: { observer?: SessionObserver; keeper?: UserIndexKeeper; cache?: SessionCache; options?: object } = {}): Setup {
  const redis = new Map<string, StoredFields | 'wrongType'>();
  const client = { defineCommand: () => undefined };
  const settings = resolveStoreOptions({ client: client as never, idleTimeout: IDLE, touchAfter: TOUCH_AFTER, ...more.options });
  const byKey = new Map<string, string>();
  const readSession = jest.fn((redisKey: string) => {
    const fields = redis.get(byKey.get(redisKey) ?? '');
    return Promise.resolve(fields === undefined ? null : fields === 'wrongType' ? fields : { ...fields });
  });
  const observers = new SessionObservers();
  observers.add(more.observer);
  const logger = { warn: jest.fn(), error: jest.fn() };
  const context = new SessionContext(settings, { readSession } as never, observers, logger);
  const key = (id: string) => {
    const redisKey = context.redisKeyOf(id);
    byKey.set(redisKey, id);
    return redisKey;
  };
  const digest = (id: string) => context.digestOfKey(key(id));
  for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) key(id);
  const slides = { slide: jest.fn(() => Promise.resolve()), dropPastDeadline: jest.fn(() => null) };
  const successorFrom = jest.fn();
  const forwarding = { successorFrom } as unknown as SessionForwarding;
  const reader = new SessionReader(context, slides as unknown as SessionSlides, forwarding, more.keeper, more.cache);
  return { reader, context, redis, readSession, slides, successorFrom, logger, key, digest };
}

/** A near cache holding `entries` by Redis key, which serves while `serving` says. */
function fakeCache(entries = new Map<string, StoredFields>()) {
  let ticket = 0;
  const cache = {
    serving: jest.fn(() => true),
    read: jest.fn((redisKey: string) => entries.get(redisKey)),
    forget: jest.fn((redisKey: string) => entries.delete(redisKey)),
    begin: jest.fn(() => ++ticket),
    fill: jest.fn(),
    settle: jest.fn(),
  };
  return cache;
}

afterEach(() => jest.restoreAllMocks());

describe('SessionReader.load from Redis', () => {
  it('adopts the hash: its data, its state under the key read, its index entry, reported as seen', async () => {
    const observer = { sessionSeen: jest.fn() };
    const entry = { userId: 'u', digest: 'd' };
    const keeper = { entryOf: jest.fn(() => entry) } as unknown as UserIndexKeeper;
    const s = setup({ observer, keeper });
    s.redis.set('a', hash({ user: '{"id":"u"}' }));
    const data = await s.reader.load('a');
    expect(s.readSession).toHaveBeenCalledWith(s.key('a'));
    expect(data!.n).toBe(1);
    const state = stateOf(data!)!;
    expect(state).toMatchObject({ redisKey: s.key('a'), refreshed: true, indexEntry: entry });
    expect(keeper.entryOf).toHaveBeenCalledWith(data, s.digest('a'));
    expect(observer.sessionSeen).toHaveBeenCalledWith(s.digest('a'), 'u');
    expect(state.sliding).toBeUndefined(); // a full window away: no slide due
    expect(s.slides.slide).not.toHaveBeenCalled();
  });

  it('answers null for a missing key, and for one that is not a hash (logged)', async () => {
    const s = setup();
    await expect(s.reader.load('a')).resolves.toBeNull();
    expect(s.logger.warn).not.toHaveBeenCalled();
    s.redis.set('b', 'wrongType');
    await expect(s.reader.load('b')).resolves.toBeNull();
    expect(s.logger.warn).toHaveBeenCalledWith(expect.stringContaining('not a hash'));
  });

  it("answers null for a destroyed session's tombstone", async () => {
    const s = setup();
    s.redis.set('a', hash({ [FIELD.ended]: '1' }));
    await expect(s.reader.load('a')).resolves.toBeNull();
    expect(s.readSession).toHaveBeenCalledTimes(1);
  });

  it('sends the slide that fell due, hands it to the state, and moves the cookie expiry to it', async () => {
    const s = setup({ options: { cookie: { persistent: true } } });
    const now = Date.now();
    s.redis.set('a', hash({ [FIELD.expiresAt]: String(now + IDLE - TOUCH_AFTER - 1_000) }, now));
    const sliding = Promise.resolve();
    s.slides.slide.mockReturnValueOnce(sliding);
    const data = (await s.reader.load('a'))!;
    const state = stateOf(data)!;
    expect(s.slides.slide).toHaveBeenCalledTimes(1);
    const [redisKey, slidState, slideTo] = s.slides.slide.mock.calls[0];
    expect(redisKey).toBe(s.key('a'));
    expect(slidState).toBe(state);
    expect(slideTo).toBeGreaterThanOrEqual(now + IDLE);
    expect(state.sliding).toBe(sliding);
    expect(data.cookie.expires).toEqual(new Date(slideTo));
    expect(state.refreshed).toBe(true);
  });

  it('gives a browser-session cookie no expiry when it slides', async () => {
    const s = setup();
    s.redis.set('a', hash({ [FIELD.expiresAt]: String(Date.now() + 1_000) }));
    const data = (await s.reader.load('a'))!;
    expect(s.slides.slide).toHaveBeenCalledTimes(1);
    expect(data.cookie.expires).toBeNull();
  });

  it('drops a session past its absolute deadline, through the slides', async () => {
    const s = setup({ options: { absoluteTimeout: 2 * IDLE } });
    s.redis.set('a', hash({ [FIELD.createdAt]: String(Date.now() - 2 * IDLE) }));
    s.redis.set('b', hash());
    await expect(s.reader.load('a')).resolves.toBeNull();
    expect(s.slides.dropPastDeadline).toHaveBeenCalledWith(s.key('a'));
    await expect(s.reader.load('b')).resolves.not.toBeNull();
    expect(s.slides.dropPastDeadline).toHaveBeenCalledTimes(1);
  });

  it('answers null for a corrupt hash, logged as corrupt, and for a value that does not open, logged as such', async () => {
    const s = setup();
    s.redis.set('a', { n: '1' }); // no creation time
    await expect(s.reader.load('a')).resolves.toBeNull();
    expect(s.logger.warn).toHaveBeenCalledTimes(1);
    expect(s.logger.warn.mock.calls[0][0]).toMatch(/^Ignoring corrupt session/);

    const sealed = setup({ options: { encryption: { keys: [Buffer.alloc(32, 3)] } } });
    sealed.redis.set('a', hash()); // "n" in clear, where a sealed value is expected
    await expect(sealed.reader.load('a')).resolves.toBeNull();
    expect(sealed.logger.warn).toHaveBeenCalledTimes(1);
    expect(sealed.logger.warn.mock.calls[0][0]).not.toMatch(/^Ignoring corrupt session/);
  });

  it('passes on an error of the decode that is not about the hash', async () => {
    const s = setup();
    s.redis.set('a', hash());
    const failure = new Error('no sealing');
    jest.spyOn(s.context.sealing, 'sealingFor').mockImplementation(() => {
      throw failure;
    });
    await expect(s.reader.load('a')).rejects.toBe(failure);
  });
});

describe('SessionReader.load: a renewed session', () => {
  const renewed = (): StoredFields => hash({ [FIELD.successor]: 'sealed' });

  it("reads the successor of a renewed session's old key, naming it in the state", async () => {
    const s = setup();
    s.redis.set('a', renewed());
    s.redis.set('b', hash({ n: '2' }));
    s.successorFrom.mockResolvedValueOnce('b');
    const data = await s.reader.load('a');
    expect(s.successorFrom).toHaveBeenCalledWith('a', expect.objectContaining({ [FIELD.successor]: 'sealed' }));
    expect(data!.n).toBe(2);
    expect(stateOf(data!)).toMatchObject({ renewedId: 'b', redisKey: s.key('b') });
  });

  it('names the last ID of a chain of renewals, and answers null past MAX_HOPS of them', async () => {
    const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
    expect(MAX_HOPS).toBeLessThan(ids.length - 1);
    const s = setup();
    s.successorFrom.mockImplementation((oldId: string) => Promise.resolve(ids[ids.indexOf(oldId) + 1]));
    for (const id of ids.slice(0, MAX_HOPS)) s.redis.set(id, renewed());
    s.redis.set(ids[MAX_HOPS], hash({ n: '2' }));
    const data = await s.reader.load('a');
    expect(data!.n).toBe(2);
    expect(stateOf(data!)!.renewedId).toBe(ids[MAX_HOPS]);

    s.redis.set(ids[MAX_HOPS], renewed()); // one hop more
    s.redis.set(ids[MAX_HOPS + 1], hash({ n: '3' }));
    await expect(s.reader.load('a')).resolves.toBeNull();
  });

  it('answers null when the renewed session has no successor left', async () => {
    const s = setup();
    s.redis.set('a', renewed());
    s.successorFrom.mockResolvedValueOnce(undefined);
    await expect(s.reader.load('a')).resolves.toBeNull();
    expect(s.readSession).toHaveBeenCalledTimes(1);
  });
});

describe('SessionReader and the near cache', () => {
  it('serves a cached hash at once, adopted and counted as a hit, without Redis', async () => {
    const observer = { nearCacheRead: jest.fn(), sessionSeen: jest.fn() };
    const s0 = setup();
    const cache = fakeCache(new Map([[s0.key('a'), hash()]]));
    const s = setup({ observer, cache });
    const now = s.reader.loadNow('a');
    expect(now!.n).toBe(1);
    expect(stateOf(now!)!.redisKey).toBe(s.key('a'));
    const loaded = await s.reader.load('a');
    expect(loaded!.n).toBe(1);
    expect(observer.nearCacheRead.mock.calls).toEqual([[true], [true]]);
    expect(s.readSession).not.toHaveBeenCalled();
  });

  it('answers loadNow with undefined without a cache, while the cache does not serve, and on a miss', () => {
    expect(setup().reader.loadNow('a')).toBeUndefined();
    const s0 = setup();
    const cache = fakeCache(new Map([[s0.key('a'), hash()]]));
    cache.serving.mockReturnValue(false);
    const s = setup({ cache });
    expect(s.reader.loadNow('a')).toBeUndefined();
    expect(cache.read).not.toHaveBeenCalled();
    cache.serving.mockReturnValue(true);
    expect(s.reader.loadNow('b')).toBeUndefined();
  });

  it('drops a cached hash past its expiry and reads Redis, and serves one with no expiry field', async () => {
    const now = Date.now();
    jest.spyOn(Date, 'now').mockReturnValue(now); // the entry expires at this very ms
    const s0 = setup();
    const expired = hash({ [FIELD.expiresAt]: String(now) });
    const { [FIELD.expiresAt]: _expiry, ...noExpiry } = hash();
    const cache = fakeCache(
      new Map([
        [s0.key('a'), expired],
        [s0.key('b'), noExpiry],
      ]),
    );
    const s = setup({ cache });
    s.redis.set('a', hash({ n: '5' }));
    expect(s.reader.loadNow('a')).toBeUndefined();
    expect(cache.forget).toHaveBeenCalledWith(s.key('a'));
    await expect(s.reader.load('a')).resolves.toMatchObject({ n: 5 });
    expect(s.readSession).toHaveBeenCalledTimes(1);
    expect(s.reader.loadNow('b')).toMatchObject({ n: 1 });
    expect(cache.forget).toHaveBeenCalledTimes(1);
  });

  it('reads through the cache for an observer that has none of the hooks', async () => {
    const s0 = setup();
    const cache = fakeCache(new Map([[s0.key('a'), hash()]]));
    const s = setup({ observer: {}, cache });
    s.redis.set('b', hash());
    await expect(s.reader.load('a')).resolves.toMatchObject({ n: 1 }); // a hit
    await expect(s.reader.load('b')).resolves.toMatchObject({ n: 1 }); // a miss
  });

  it('reads Redis after a miss, counted as a miss, and fills the cache under the ticket it began with', async () => {
    const observer = { nearCacheRead: jest.fn() };
    const cache = fakeCache();
    const s = setup({ observer, cache });
    const fields = hash();
    s.redis.set('a', fields);
    const before = Date.now();
    const data = await s.reader.load('a');
    expect(data!.n).toBe(1);
    expect(observer.nearCacheRead).toHaveBeenCalledWith(false);
    expect(cache.begin).toHaveBeenCalledWith(s.key('a'));
    const ticket = cache.begin.mock.results[0].value as number;
    expect(cache.fill).toHaveBeenCalledTimes(1);
    const [redisKey, filledTicket, filled, at] = cache.fill.mock.calls[0];
    expect([redisKey, filledTicket, filled]).toEqual([s.key('a'), ticket, fields]);
    expect(at).toBeGreaterThanOrEqual(before);
    expect(cache.settle).toHaveBeenCalledWith(s.key('a'), ticket);
  });

  it('fills nothing for a missing key, a tombstone, a key that is not a hash or a renewed one, and settles each', async () => {
    const cache = fakeCache();
    const s = setup({ cache });
    s.redis.set('b', hash({ [FIELD.ended]: '1' }));
    s.redis.set('c', 'wrongType');
    s.redis.set('d', hash({ [FIELD.successor]: 'sealed' }));
    s.redis.set('e', hash({ n: '2' }));
    s.successorFrom.mockResolvedValueOnce('e');
    for (const id of ['a', 'b', 'c']) await expect(s.reader.load(id)).resolves.toBeNull();
    expect(s.logger.warn).toHaveBeenCalledTimes(1);
    expect(s.logger.warn).toHaveBeenCalledWith(expect.stringContaining('not a hash'));
    const followed = await s.reader.load('d');
    expect(followed!.n).toBe(2);
    expect(stateOf(followed!)!.renewedId).toBe('e');
    expect(cache.fill.mock.calls.map(([redisKey]) => redisKey)).toEqual([s.key('e')]); // the successor, under its own key
    expect(cache.settle).toHaveBeenCalledTimes(5);
  });

  it('settles its ticket when the read fails, and passes the failure on', async () => {
    const cache = fakeCache();
    const s = setup({ cache });
    const failure = new Error('down');
    s.readSession.mockRejectedValueOnce(failure);
    await expect(s.reader.load('a')).rejects.toBe(failure);
    expect(cache.settle).toHaveBeenCalledWith(s.key('a'), cache.begin.mock.results[0].value);
    expect(cache.fill).not.toHaveBeenCalled();
  });

  it('answers a failure of the cache with a rejected promise, never a throw', async () => {
    const cache = fakeCache();
    const failure = new Error('cache broken');
    cache.read.mockImplementation(() => {
      throw failure;
    });
    const s = setup({ cache });
    let answer: Promise<unknown> | undefined;
    expect(() => (answer = s.reader.load('a'))).not.toThrow();
    await expect(answer).rejects.toBe(failure);
  });

  it('reads Redis without the cache while it does not serve', async () => {
    const cache = fakeCache();
    cache.serving.mockReturnValue(false);
    const s = setup({ cache });
    s.redis.set('a', hash());
    await expect(s.reader.load('a')).resolves.toMatchObject({ n: 1 });
    expect(cache.read).not.toHaveBeenCalled();
    expect(cache.begin).not.toHaveBeenCalled();
  });
});
