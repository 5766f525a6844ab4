import { startRedis, type RedisServerHandle } from '../support/redis';
import { startShopCluster, type ShopCluster } from './support/shop-cluster';
import { ShopClient } from './support/shop-client';
import { expectError } from './support/expectations';

// Issue 12, item 6: a body nested 10,000 levels deep is bad input, so it gets a 400, not a 500 from a
// stack overflow in validation; the replica keeps serving.
describe('shop: a deeply nested JSON body', () => {
  let redis: RedisServerHandle;
  let shop: ShopCluster;

  beforeAll(async () => {
    redis = await startRedis();
    shop = await startShopCluster(redis.url, 1);
  });

  afterAll(async () => {
    await shop?.close();
    await redis?.stop();
  });

  it('answers 400 to a cart addition nested 10,000 levels deep, and keeps serving', async () => {
    const client = new ShopClient(shop.url);
    await client.fetchCsrf();
    const depth = 10_000;
    const nested = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    const res = await client.raw('POST', '/api/cart/items', `{"sku":${nested},"qty":1}`);
    expectError(res, 400);
    expect((await client.get('/api/cart')).status).toBe(200);
  });
});
