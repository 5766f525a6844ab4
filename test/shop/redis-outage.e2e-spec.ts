import { performance } from 'node:perf_hooks';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { startShopCluster, type ShopCluster } from './support/shop-cluster';
import { ShopClient, type ShopResponse } from './support/shop-client';
import { DEADLINE_MARGIN_MS, DEFAULT_REDIS_DEADLINE_MS } from '../support/deadline-margin';

// When Redis is gone the shop must say so (503, within its redisDeadline, the default) rather than
// treat users as anonymous, and it must recover by itself when Redis is back.

const WITHIN_MS = DEFAULT_REDIS_DEADLINE_MS + DEADLINE_MARGIN_MS;

describe('shop when Redis is unavailable', () => {
  let redis: RedisServerHandle;
  let shop: ShopCluster;
  let alice: ShopClient;
  let visitor: ShopClient;

  beforeAll(async () => {
    redis = await startRedis({ controllable: true });
    shop = await startShopCluster(redis.url);
    alice = new ShopClient(shop.url);
    expect((await alice.login('alice', 'wonderland')).status).toBe(200);
    expect((await alice.post('/api/cart/items', { sku: 'WATCH-POCKET', qty: 2 })).status).toBe(201);
    visitor = new ShopClient(shop.url);
    await visitor.fetchCsrf();
  });
  afterAll(async () => {
    await shop?.close();
    await redis?.stop();
  });

  async function timed(request: () => Promise<ShopResponse>): Promise<ShopResponse & { ms: number }> {
    const started = performance.now();
    const res = await request();
    return { ...res, ms: performance.now() - started };
  }

  it('answers 503 on every session route and on /health within a second, from every replica', async () => {
    await redis.interrupt();
    const stranger = new ShopClient(shop.url);
    const requests: Array<[string, () => Promise<ShopResponse>]> = [
      ['GET /health', () => alice.get('/health')],
      ['GET /api/auth/me', () => alice.get('/api/auth/me')],
      ['GET /api/cart', () => alice.get('/api/cart')],
      ['GET /api/auth/sessions', () => alice.get('/api/auth/sessions')],
      ['POST /api/cart/items', () => alice.post('/api/cart/items', { sku: 'WATCH-POCKET', qty: 1 })],
      ['DELETE /api/cart/items/:sku', () => alice.delete('/api/cart/items/WATCH-POCKET')],
      ['POST /api/auth/logout', () => alice.post('/api/auth/logout')],
      ['POST /api/auth/logout-all', () => alice.post('/api/auth/logout-all')],
      ['GET /api/csrf (session)', () => visitor.get('/api/csrf')],
      ['POST /api/auth/login (session)', () => visitor.post('/api/auth/login', { username: 'bob', password: 'builder' })],
      ['GET /api/csrf (no session yet)', () => stranger.get('/api/csrf')],
    ];
    const replicas = new Set<string | null>();
    for (const [name, request] of requests) {
      // Twice each, so every route is tried on at least two replicas.
      for (let i = 0; i < 2; i++) {
        const res = await timed(request);
        replicas.add(res.replica);
        expect({ name, status: res.status, message: res.body?.message }).toEqual({
          name,
          status: 503,
          message: expect.stringMatching(/^Session store unavailable/),
        });
        expect(res.ms).toBeLessThan(WITHIN_MS);
      }
    }
    expect(replicas.size).toBe(3);
  });

  it('keeps serving what needs no session', async () => {
    const stranger = new ShopClient(shop.url);
    expect((await stranger.get('/api/products')).status).toBe(200);
    expect((await stranger.get('/')).status).toBe(200);
    expect((await stranger.get('/api/cart')).body).toEqual({ items: [], total: 0 });
  });

  it('recovers when Redis is back: the same session, still logged in, with its cart', async () => {
    await redis.resume();
    const deadline = performance.now() + 15_000;
    for (let healthy = 0; healthy < shop.replicaIds.length;) {
      const res = await alice.get('/health');
      healthy = res.status === 200 ? healthy + 1 : 0; // three in a row: every replica is back
      if (performance.now() > deadline) throw new Error(`Replicas did not recover within 15 s (last: ${res.status})`);
      if (res.status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    for (let i = 0; i < 3; i++) {
      expect((await alice.get('/api/auth/me')).body).toEqual({ user: { id: 1, username: 'alice' } });
      expect((await alice.get('/api/cart')).body.items).toEqual([expect.objectContaining({ sku: 'WATCH-POCKET', qty: 2 })]);
    }
    expect((await alice.post('/api/cart/items', { sku: 'WATCH-POCKET', qty: 1 })).status).toBe(201);
  });
});
