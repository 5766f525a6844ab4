import type { Redis } from 'ioredis';
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
