import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { startShopCluster, type ShopCluster } from './support/shop-cluster';
import { ShopClient } from './support/shop-client';

// The shop seals its sessions with the keys of SESSION_ENCRYPTION_KEYS: Redis holds no user, cart or
// CSRF token in clear, and every replica opens what any other sealed.

describe('shop sessions at rest', () => {
  let redis: RedisServerHandle;
  let admin: Redis;
  let shop: ShopCluster;

  beforeAll(async () => {
    redis = await startRedis({ controllable: true }); // a Redis of its own: the test reads every hash in it
    admin = new Redis(redis.url);
    shop = await startShopCluster(redis.url, 3, { SESSION_ENCRYPTION_KEYS: `${randomBytes(32).toString('base64')},${randomBytes(32).toString('base64')}` });
  });
  afterAll(async () => {
    await shop?.close();
    admin?.disconnect();
    await redis?.stop();
  });

  it('keeps a logged-in cart across replicas, with no user, sku or CSRF token in clear in Redis', async () => {
    const client = new ShopClient(shop.url);
    const login = await client.login('alice', 'wonderland');
    expect(login.status).toBe(200);
    const [product] = (await client.get<{ sku: string }[]>('/api/products')).body;
    const adds = await Promise.all([1, 2, 3].map(() => client.post('/api/cart/items', { sku: product.sku, qty: 1 })));
    expect(new Set(adds.map((res) => res.replica)).size).toBe(3);
    const carts = await Promise.all([1, 2, 3].map(() => client.get<{ items: { sku: string; qty: number }[] }>('/api/cart')));
    for (const cart of carts) expect(cart.body.items).toEqual([expect.objectContaining({ sku: product.sku, qty: 3 })]);

    const keys = [];
    for (const key of await admin.keys('*')) if ((await admin.type(key)) === 'hash') keys.push(key);
    expect(keys.length).toBeGreaterThan(0);
    const held = JSON.stringify(await Promise.all(keys.map((key) => admin.hgetall(key))));
    expect(held).toMatch(/"~[A-Za-z0-9_-]{40,}"/);
    for (const secret of [product.sku, 'alice', client.csrfToken!]) expect(held).not.toContain(secret);
  });
});
