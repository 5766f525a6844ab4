import Redis from 'ioredis';
import { NearCache, type NearCacheSettings } from '@app/session/cache/near-cache';
import { deleteByPrefix, uniquePrefix } from '../support/prefix';
import { waitUntil } from '../support/probe';
import { startRedis, type RedisServerHandle } from '../support/redis';

const SETTINGS: NearCacheSettings = {
  maxEntries: 100,
  maxBytes: 1_000_000,
  maxAge: 3_600_000, // an hour: the age backstop never decides what a read finds here
  heartbeatInterval: 3_600_000, // the arming heartbeat only: no later beat can flush the cache mid-test
  invalidationTimeout: 10_000,
};

/**
 * The placeholder of a load (`begin` … `fill`): a load asks Redis, and before its answer arrives the
 * key changes, by another replica (Redis's invalidation) or by this one (`writing`). The answer then
 * predates the change and must not be cached, or this replica would serve the old session until the
 * next change of the key. The races are set up step by step on a cache armed on a real Redis, with
 * the invalidation awaited as the event it is: no timing decides the outcome.
 */
describe('near cache: a change racing a load cancels its fill', () => {
  let redis: RedisServerHandle;
  let client: Redis;
  let writer: Redis;
  let cache: NearCache;
  const prefix = uniquePrefix('fill-race');
  const before = { v: '1' };
  const after = { v: '2' };
  let keys = 0;
  /** What the cache's context answers for Redis's reachability: a test turns it off and on. */
  let reachable = true;
  const freshKey = () => `${prefix}${String(++keys).padStart(32, 'k')}`;

  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url, { lazyConnect: true });
    writer = new Redis(redis.url);
    await client.connect(); // the tracker arms on a ready client only
    cache = new NearCache(SETTINGS, {
      client,
      prefix,
      redisReachable: () => reachable,
      observer: () => undefined,
      logger: { warn: (message) => console.warn(message) },
    });
    cache.start();
    await waitUntil('the near cache to serve', () => Promise.resolve(cache.serving()));
  });

  afterAll(async () => {
    cache?.close();
    if (writer) await deleteByPrefix(writer, prefix);
    client?.disconnect();
    writer?.disconnect();
    await redis?.stop();
  });

  it('fills and serves what an unraced load found (the races below are measured against it)', () => {
    const key = freshKey();
    const ticket = cache.begin(key);
    expect(ticket).toBeDefined();
    cache.fill(key, ticket, before, Date.now());
    expect(cache.read(key, Date.now())).toEqual(before);
  });

  it("drops a load's answer when this replica writes the key before it arrives", () => {
    const key = freshKey();
    const ticket = cache.begin(key);
    cache.writing(key); // a save of this replica, sent while the load's HGETALL is in flight
    expect(cache.serving()).toBe(true);
    cache.fill(key, ticket, before, Date.now()); // the HGETALL's answer, older than the write
    expect(cache.read(key, Date.now())).toBeUndefined();
    expect(cache.holds(key)).toBe(false);
  });

  it("drops a load's answer when another replica's write is invalidated before it arrives, and fills the next load", async () => {
    const key = freshKey();
    const ticket = cache.begin(key);
    const invalidation = cache.expectInvalidation(key);
    expect(invalidation).toBeDefined();
    await writer.hset(key, after); // another replica's write, after the load's read
    await invalidation!.arrived;
    // Arrived, and not by a flush (which disarms the cache and would decide the outcome instead).
    expect(cache.serving()).toBe(true);
    cache.fill(key, ticket, before, Date.now());
    expect(cache.read(key, Date.now())).toBeUndefined();

    const next = cache.begin(key);
    cache.fill(key, next, after, Date.now());
    expect(cache.read(key, Date.now())).toEqual(after);
  });

  it('never keeps the answer of a load that began while the cache could not serve, though it serves again when the answer arrives', () => {
    const key = freshKey();
    reachable = false; // a call just failed for want of Redis: the cache must not serve nor fill
    let ticket: number | undefined;
    try {
      ticket = cache.begin(key);
    } finally {
      reachable = true;
    }
    expect(ticket).toBeUndefined();
    expect(cache.serving()).toBe(true);
    cache.fill(key, ticket, before, Date.now()); // the load's answer, read while nothing invalidated this cache
    cache.settle(key, ticket);
    expect(cache.holds(key)).toBe(false);
    expect(cache.read(key, Date.now())).toBeUndefined();
  });
});
