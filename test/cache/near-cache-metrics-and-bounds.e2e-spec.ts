import { Registry } from 'prom-client';
import { metricValue } from '../operations/support/metric-value';
import { uniquePrefix } from '../support/prefix';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { startReplicas, type RunningApp } from '../session/support/session-app';
import { Visitor } from '../session/support/http-client';
import { nearCacheOf, through, untilServing, warmOn } from './support/near-cache-apps';

/** Issue 10, §2: the near cache's metrics, and its bound on memory with many more sessions than it may hold. */
describe('near cache: metrics and bounds', () => {
  let redis: RedisServerHandle;
  const running: RunningApp[] = [];

  beforeAll(async () => {
    redis = await startRedis();
  });

  afterAll(async () => {
    await Promise.all(running.map((app) => app.close()));
    await redis?.stop();
  });

  it('counts hits, misses, invalidations and flushes, and reports entries and bytes', async () => {
    const registry = new Registry();
    const [a] = await startReplicas(1, { redis: redis.url, prefix: uniquePrefix('near-metrics'), nearCache: true, metrics: { registry } });
    running.push(a);
    await untilServing([a]);
    const [b] = await startReplicas(1, { redis: redis.url, prefix: a.prefix, nearCache: true });
    running.push(b);
    await untilServing([b]);

    const user = new Visitor(b.url);
    await user.post('/set/color', { value: 'red' });
    const before = {
      hits: await metricValue(registry, 'session_near_cache_reads_total', { result: 'hit' }),
      misses: await metricValue(registry, 'session_near_cache_reads_total', { result: 'miss' }),
      invalidations: await metricValue(registry, 'session_near_cache_invalidations_total'),
    };
    await warmOn([a], user.cookie); // a miss that fills, and possibly more
    const afterWarm = await metricValue(registry, 'session_near_cache_reads_total', { result: 'miss' });
    expect(afterWarm).toBeGreaterThan(before.misses);
    const hits = await metricValue(registry, 'session_near_cache_reads_total', { result: 'hit' });
    await through(a, user.cookie).get('/whole');
    expect(await metricValue(registry, 'session_near_cache_reads_total', { result: 'hit' })).toBe(hits + 1);
    expect(await metricValue(registry, 'session_near_cache_entries')).toBe(1);
    expect(await metricValue(registry, 'session_near_cache_bytes')).toBe(nearCacheOf(a).stats.bytes);
    expect(nearCacheOf(a).stats.bytes).toBeGreaterThan(0);

    // Changed through replica B: A's copy goes by Redis's invalidation.
    await user.post('/set/color', { value: 'blue' });
    expect((await through(a, user.cookie).get('/whole')).body.color).toBe('blue');
    expect(await metricValue(registry, 'session_near_cache_invalidations_total')).toBeGreaterThan(before.invalidations);
    expect(await metricValue(registry, 'session_near_cache_flushes_total', { reason: 'flushall' })).toBe(0);
  });

  it('holds no more than maxEntries sessions, and no more bytes than maxBytes, over many more sessions read', async () => {
    const maxEntries = 20;
    const maxBytes = 8 * 1024;
    const [a] = await startReplicas(1, { redis: redis.url, prefix: uniquePrefix('near-bounds'), nearCache: { maxEntries, maxBytes } });
    running.push(a);
    await untilServing([a]);
    const cache = nearCacheOf(a);
    let most = { entries: 0, bytes: 0 };
    for (let i = 0; i < 200; i++) {
      const visitor = new Visitor(a.url);
      await visitor.post('/set/note', { value: 'x'.repeat(i % 50) });
      for (let read = 0; read < 2; read++) expect((await visitor.get('/whole')).status).toBe(200);
      most = { entries: Math.max(most.entries, cache.stats.entries), bytes: Math.max(most.bytes, cache.stats.bytes) };
    }
    expect(most.entries).toBeGreaterThan(0);
    expect(most.entries).toBeLessThanOrEqual(maxEntries);
    expect(most.bytes).toBeLessThanOrEqual(maxBytes);
  });
});
