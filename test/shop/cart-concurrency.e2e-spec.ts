import { startRedis, type RedisServerHandle } from '../support/redis';
import { startShopCluster, type ShopCluster } from './support/shop-cluster';
import { ShopClient } from './support/shop-client';

// The contract's concurrency promise: parallel cart changes of one session, answered by different
// replicas, never lose each other's changes.

const PARALLEL = 50;

describe('shop cart under concurrent requests', () => {
  let redis: RedisServerHandle;
  let shop: ShopCluster;
  let skus: string[];

  beforeAll(async () => {
    redis = await startRedis({ controllable: true });
    shop = await startShopCluster(redis.url);
    skus = (await new ShopClient(shop.url).get<{ sku: string }[]>('/api/products')).body.map((p) => p.sku);
  });
  afterAll(async () => {
    await shop?.close();
    await redis?.stop();
  });

  /** Sends PARALLEL one-unit adds spread over the catalog; returns how many were sent per sku. */
  async function addInParallel(client: ShopClient): Promise<Map<string, number>> {
    const expected = new Map<string, number>();
    const requests = Array.from({ length: PARALLEL }, (_, i) => {
      const sku = skus[i % skus.length];
      expected.set(sku, (expected.get(sku) ?? 0) + 1);
      return client.post('/api/cart/items', { sku, qty: 1 });
    });
    const answers = await Promise.all(requests);
    expect(answers.map((res) => res.status)).toEqual(Array(PARALLEL).fill(201));
    expect(new Set(answers.map((res) => res.replica)).size).toBe(3);
    return expected;
  }

  function quantities(cart: { items: { sku: string; qty: number }[] }): Map<string, number> {
    return new Map(cart.items.map((item) => [item.sku, item.qty]));
  }

  it.each([
    ['a logged-in user', true],
    ['an anonymous visitor', false],
  ])(`%s: ${PARALLEL} parallel adds of one unit leave exactly that many, each sku right`, async (_who, logIn) => {
    const client = new ShopClient(shop.url);
    if (logIn) expect((await client.login('alice', 'wonderland')).status).toBe(200);
    else await client.fetchCsrf();

    const expected = await addInParallel(client);
    const carts = await Promise.all([1, 2, 3].map(() => client.get('/api/cart')));
    for (const cart of carts) {
      expect(quantities(cart.body)).toEqual(expected);
      expect(cart.body.items.reduce((sum: number, item: { qty: number }) => sum + item.qty, 0)).toBe(PARALLEL);
    }
  });

  it('keeps two sessions’ parallel changes apart', async () => {
    const [first, second] = [new ShopClient(shop.url), new ShopClient(shop.url)];
    await Promise.all([first.fetchCsrf(), second.fetchCsrf()]);
    const [a, b] = await Promise.all([addInParallel(first), addInParallel(second)]);
    expect(quantities((await first.get('/api/cart')).body)).toEqual(a);
    expect(quantities((await second.get('/api/cart')).body)).toEqual(b);
  });

  it('parallel removes and adds of different lines all land', async () => {
    const client = new ShopClient(shop.url);
    await client.fetchCsrf();
    for (const sku of skus) await client.post('/api/cart/items', { sku, qty: 5 });
    const [gone, kept] = [skus.slice(0, 4), skus.slice(4)];
    const answers = await Promise.all([
      ...gone.map((sku) => client.delete(`/api/cart/items/${sku}`)),
      ...kept.map((sku) => client.post('/api/cart/items', { sku, qty: 1 })),
    ]);
    expect(answers.map((res) => res.status)).toEqual([...gone.map(() => 200), ...kept.map(() => 201)]);
    expect(quantities((await client.get('/api/cart')).body)).toEqual(new Map(kept.map((sku) => [sku, 6])));
  });
});
