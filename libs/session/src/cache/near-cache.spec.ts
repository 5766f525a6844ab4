import type { Redis } from 'ioredis';
import { FakeMaster, fakeStandalone } from '../../../../test/support/fake-tracking-redis';
import { NearCache } from './near-cache';

/**
 * A write in the PUBLISH fallback while this replica's tracker is not armed: it cannot hear its own
 * message back, yet the other replicas may be serving, so it waits for Redis to answer the PUBLISH
 * (bounded). A fake client stands in for Redis: only the ordering of promises is under test here; the
 * fallback against a real Redis is test/cache/near-cache-fallback.e2e-spec.ts.
 */
describe('NearCache.written in the PUBLISH fallback, not armed', () => {
  const TIMEOUT = 5_000;

  function cacheWithPublish(publish: () => Promise<number>) {
    const client = { options: {}, publish: jest.fn(publish) };
    const cache = new NearCache(
      { maxEntries: 10, maxBytes: 1_000_000, maxAge: 60_000, heartbeatInterval: 1_000, invalidationTimeout: TIMEOUT },
      { client: client as unknown as Redis, prefix: 'p:', redisReachable: () => true, observer: () => undefined, logger: { warn: () => undefined } },
    );
    const tracker = (cache as unknown as { tracker: object }).tracker;
    Object.defineProperty(tracker, 'publishing', { get: () => true });
    Object.defineProperty(tracker, 'armed', { get: () => false });
    return { cache, client };
  }

  it('answers only once Redis has answered the PUBLISH of the key', async () => {
    let answer!: () => void;
    const { cache, client } = cacheWithPublish(() => new Promise<number>((resolve) => (answer = () => resolve(2))));
    let settled = false;
    const waited = cache.written('p:key')!.then(() => (settled = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(client.publish).toHaveBeenCalledWith('p:near-cache:invalidate', 'p:key');
    expect(settled).toBe(false);
    answer();
    await waited;
    expect(settled).toBe(true);
  });

  it('gives up waiting after invalidationTimeout when Redis does not answer', async () => {
    jest.useFakeTimers();
    try {
      const { cache } = cacheWithPublish(() => new Promise<number>(() => undefined));
      let settled = false;
      const waited = cache.written('p:key')!.then(() => (settled = true));
      await jest.advanceTimersByTimeAsync(TIMEOUT - 1);
      expect(settled).toBe(false);
      await jest.advanceTimersByTimeAsync(1);
      await waited;
      expect(settled).toBe(true);
    } finally {
      jest.useRealTimers();
    }
  });

  it('answers at once when the PUBLISH fails (the write itself stands)', async () => {
    const { cache } = cacheWithPublish(() => Promise.reject(new Error('connection lost')));
    await expect(cache.written('p:key')).resolves.toBeUndefined();
  });
});

/**
 * The cache's own bookkeeping, with the tracker's state set by the test (`armed`, `publishing`) and
 * its `expect` and `close` watched: what a read finds, which loads may fill, what a write, an
 * invalidation and a flush drop, and what the metrics hear. Arming on a real Redis is the business of
 * test/cache/*.e2e-spec.ts.
 */
describe('NearCache: what it serves, fills and drops', () => {
  const TIMEOUT = 5_000;
  const SESSION = { user: '"ada"', expires: '9999999999999' };
  const NOW = 1_000;

  interface Watched {
    expect: jest.Mock;
    close: jest.Mock;
  }

  function cacheWith(options: { publish?: () => Promise<number> } = {}) {
    const state = { armed: true, publishing: false, reachable: true };
    const observer = { nearCacheInvalidated: jest.fn(), nearCacheFlushed: jest.fn() };
    const client = { options: {}, off: jest.fn(), publish: jest.fn(options.publish ?? (() => Promise.resolve(1))) };
    const cache = new NearCache(
      { maxEntries: 10, maxBytes: 1_000_000, maxAge: 60_000, heartbeatInterval: 1_000, invalidationTimeout: TIMEOUT },
      {
        client: client as unknown as Redis,
        prefix: 'p:',
        redisReachable: () => state.reachable,
        observer: () => observer,
        logger: { warn: () => undefined },
      },
    );
    const tracker = (cache as unknown as { tracker: Watched }).tracker;
    Object.defineProperty(tracker, 'armed', { get: () => state.armed });
    Object.defineProperty(tracker, 'publishing', { get: () => state.publishing });
    const watched: Watched = { expect: jest.spyOn(tracker, 'expect') as unknown as jest.Mock, close: jest.spyOn(tracker, 'close') as unknown as jest.Mock };
    return { cache, state, observer, client, tracker: watched };
  }

  /** Loads `key` the way the store does (begin, fill, settle) and says whether the cache holds it after. */
  function load(cache: NearCache, key: string): boolean {
    const ticket = cache.begin(key);
    cache.fill(key, ticket, SESSION, NOW);
    cache.settle(key, ticket);
    return cache.holds(key);
  }

  it('serves what a load filled only while the tracker is armed and Redis is reachable', () => {
    const { cache, state } = cacheWith();
    expect(load(cache, 'p:a')).toBe(true);
    expect(cache.serving()).toBe(true);
    expect(cache.read('p:a', NOW)).toEqual(SESSION);
    state.reachable = false;
    expect(cache.serving()).toBe(false);
    expect(cache.read('p:a', NOW)).toBeUndefined();
    state.reachable = true;
    state.armed = false;
    expect(cache.serving()).toBe(false);
    expect(cache.read('p:a', NOW)).toBeUndefined();
    expect(cache.holds('p:a')).toBe(true);
  });

  it('gives no ticket to a load while it cannot serve, and counts what it holds', () => {
    const { cache, state } = cacheWith();
    state.armed = false;
    expect(cache.begin('p:a')).toBeUndefined();
    state.armed = true;
    state.reachable = false;
    expect(cache.begin('p:a')).toBeUndefined();
    state.reachable = true;
    expect(cache.stats).toEqual({ entries: 0, bytes: 0 });
    expect(load(cache, 'p:a')).toBe(true);
    expect(cache.stats.entries).toBe(1);
    expect(cache.stats.bytes).toBeGreaterThan(0);
  });

  it('stores nothing when it stopped serving between the start of a load and its answer', () => {
    const { cache, state } = cacheWith();
    const ticket = cache.begin('p:a');
    state.reachable = false;
    cache.fill('p:a', ticket, SESSION, NOW);
    state.reachable = true;
    expect(cache.holds('p:a')).toBe(false);
  });

  it('spends a ticket once settled: a fill with it afterwards stores nothing', () => {
    const { cache } = cacheWith();
    const ticket = cache.begin('p:a');
    expect(ticket).toBeDefined();
    cache.settle('p:a', ticket); // the load found nothing, or failed
    cache.fill('p:a', ticket, SESSION, NOW);
    expect(cache.holds('p:a')).toBe(false);
  });

  it('stores nothing for a load that began while it could not serve, though it serves by the answer', () => {
    const { cache, state } = cacheWith();
    state.armed = false;
    const ticket = cache.begin('p:a'); // an invalidation may come and go before the tracker is armed
    state.armed = true;
    cache.fill('p:a', ticket, SESSION, NOW);
    expect(ticket).toBeUndefined();
    expect(cache.holds('p:a')).toBe(false);
  });

  it("settles only its own load: a stale load's settle leaves the next load's placeholder, which then fills", () => {
    const { cache } = cacheWith();
    const first = cache.begin('p:a');
    cache.writing('p:a'); // the first load's answer is now out of date
    const second = cache.begin('p:a');
    cache.fill('p:a', first, SESSION, NOW);
    expect(cache.holds('p:a')).toBe(false);
    cache.settle('p:a', first);
    cache.settle('p:a', undefined); // a load that began while the cache could not serve
    cache.fill('p:a', second, SESSION, NOW);
    expect(cache.holds('p:a')).toBe(true);
  });

  it('drops what it holds and cancels the loads in flight as soon as this replica starts writing the key', () => {
    const { cache } = cacheWith();
    expect(load(cache, 'p:a')).toBe(true);
    const loading = cache.begin('p:b');
    cache.writing('p:a');
    cache.writing('p:b');
    expect(cache.holds('p:a')).toBe(false);
    expect(cache.read('p:a', NOW)).toBeUndefined();
    cache.fill('p:b', loading, SESSION, NOW);
    expect(cache.holds('p:b')).toBe(false);
  });

  it('with tracking, a settled write publishes nothing and is not waited for', () => {
    const { cache, client, tracker } = cacheWith();
    expect(load(cache, 'p:a')).toBe(true);
    const loading = cache.begin('p:a');
    expect(cache.written('p:a')).toBeUndefined();
    expect(cache.holds('p:a')).toBe(false);
    cache.fill('p:a', loading, SESSION, NOW);
    expect(cache.holds('p:a')).toBe(false);
    expect(client.publish).not.toHaveBeenCalled();
    expect(tracker.expect).not.toHaveBeenCalled();
  });

  it('with the PUBLISH fallback and armed, a write waits for its own message back, not for the PUBLISH answer', async () => {
    let hear!: () => void;
    const cancel = jest.fn();
    const { cache, state, client, tracker } = cacheWith();
    state.publishing = true;
    tracker.expect.mockImplementation(() => ({ arrived: new Promise<void>((resolve) => (hear = resolve)), cancel }));
    let settled = false;
    const waited = cache.written('p:a')!.then(() => (settled = true));
    expect(tracker.expect).toHaveBeenCalledWith('p:a');
    expect(client.publish).toHaveBeenCalledWith('p:near-cache:invalidate', 'p:a');
    await client.publish.mock.results[0].value; // Redis answered the PUBLISH
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    hear();
    await waited;
    expect(settled).toBe(true);
    expect(cancel).not.toHaveBeenCalled();
  });

  it('with the PUBLISH fallback and armed, a PUBLISH that fails stops the wait for its message at once', async () => {
    const { cache, state, tracker } = cacheWith({ publish: () => Promise.reject(new Error('connection lost')) });
    state.publishing = true;
    const cancel = jest.fn();
    let hear!: () => void;
    tracker.expect.mockImplementation(() => ({ arrived: new Promise<void>((resolve) => (hear = resolve)), cancel: () => (cancel(), hear()) }));
    await expect(cache.written('p:a')).resolves.toBeUndefined();
    expect(cancel).toHaveBeenCalledTimes(1);
  });

  it('with the PUBLISH fallback and not armed, leaves no timer behind once Redis answered the PUBLISH', async () => {
    jest.useFakeTimers();
    try {
      const { cache, state } = cacheWith();
      state.publishing = true;
      state.armed = false;
      const waited = cache.written('p:a')!;
      expect(jest.getTimerCount()).toBe(1);
      await waited;
      expect(jest.getTimerCount()).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  it('expects an invalidation only while armed (not armed, it holds nothing to wait for)', () => {
    const { cache, state, tracker } = cacheWith();
    const expected = { arrived: Promise.resolve(), cancel: () => undefined };
    tracker.expect.mockReturnValue(expected);
    expect(cache.expectInvalidation('p:a')).toBe(expected);
    expect(tracker.expect).toHaveBeenCalledWith('p:a');
    state.armed = false;
    tracker.expect.mockClear();
    expect(cache.expectInvalidation('p:a')).toBeUndefined();
    expect(tracker.expect).not.toHaveBeenCalled();
  });

  it('tells whether it is publishing, as the tracker says', () => {
    const { cache, state } = cacheWith();
    expect(cache.publishing).toBe(false);
    state.publishing = true;
    expect(cache.publishing).toBe(true);
  });

  it("counts an invalidation only for a key it held, and cancels the key's loads in flight either way", () => {
    const { cache, observer } = cacheWith();
    expect(load(cache, 'p:a')).toBe(true);
    cache.invalidated('p:a');
    expect(cache.holds('p:a')).toBe(false);
    expect(observer.nearCacheInvalidated).toHaveBeenCalledTimes(1);
    const loading = cache.begin('p:b');
    cache.invalidated('p:b');
    cache.invalidated('p:c');
    expect(observer.nearCacheInvalidated).toHaveBeenCalledTimes(1);
    cache.fill('p:b', loading, SESSION, NOW);
    expect(cache.holds('p:b')).toBe(false);
  });

  it('on a flush, drops every entry and every load in flight, and tells the metrics why', () => {
    const { cache, observer } = cacheWith();
    expect(load(cache, 'p:a')).toBe(true);
    const loading = cache.begin('p:b');
    cache.flushed('heartbeat');
    expect(cache.holds('p:a')).toBe(false);
    expect(cache.stats).toEqual({ entries: 0, bytes: 0 });
    expect(observer.nearCacheFlushed).toHaveBeenCalledWith('heartbeat');
    cache.fill('p:b', loading, SESSION, NOW);
    expect(cache.holds('p:b')).toBe(false);
  });

  it('on close, stops the tracker and drops every entry and every load in flight', () => {
    const { cache, tracker } = cacheWith();
    expect(load(cache, 'p:a')).toBe(true);
    const loading = cache.begin('p:b');
    cache.close();
    expect(tracker.close).toHaveBeenCalledTimes(1);
    expect(cache.holds('p:a')).toBe(false);
    cache.fill('p:b', loading, SESSION, NOW);
    expect(cache.holds('p:b')).toBe(false);
  });
});

describe('NearCache.start', () => {
  it('arms its tracker: the cache serves once Redis has sent back its first heartbeat', async () => {
    const master = new FakeMaster('10.0.0.1', 6379);
    const cache = new NearCache(
      { maxEntries: 10, maxBytes: 1_000_000, maxAge: 60_000, heartbeatInterval: 60_000, invalidationTimeout: 5_000 },
      { client: fakeStandalone(master), prefix: 'p:', redisReachable: () => true, observer: () => undefined, logger: { warn: () => undefined } },
    );
    expect(cache.serving()).toBe(false);
    cache.start();
    for (let turn = 0; turn < 10 && !cache.serving(); turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(cache.serving()).toBe(true);
    expect(master.tracking.map(({ prefix }) => prefix)).toEqual(['p:']);
    cache.close();
    expect(cache.serving()).toBe(false);
  });
});
