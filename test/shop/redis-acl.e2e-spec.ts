import Redis from 'ioredis';
import { minimalAclRules } from '@app/session/redis/redis-permissions';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { startShopCluster, type ShopCluster } from './support/shop-cluster';
import { ShopClient } from './support/shop-client';

/** What docs/shop-api.md adds to the library's line for the shop's own failed-login limiter. */
const SHOP_RULES = '~shop:* +time';

/**
 * The shop as a least-privilege Redis user: the library's ACL line for its prefix (the one its README
 * prints) plus the shop's own rules. Without them a login answered 503: the limiter's keys and its
 * read of Redis's clock were refused.
 */
describe('the shop as a least-privilege Redis user', () => {
  let redis: RedisServerHandle;
  let shop: ShopCluster;

  beforeAll(async () => {
    redis = await startRedis({ controllable: true }); // a Redis of its own: the user is created on it
    const admin = new Redis(redis.url);
    await admin.call('ACL', 'SETUSER', 'shop', 'reset', 'on', '>change-me', ...`${minimalAclRules('sess:')} ${SHOP_RULES}`.split(' '));
    admin.disconnect();
    shop = await startShopCluster(`redis://shop:change-me@${new URL(redis.url).host}`, 1);
  });

  afterAll(async () => {
    await shop?.close();
    await redis?.stop();
  });

  it('boots, keeps a cart, and logs a user in', async () => {
    const alice = new ShopClient(shop.url);
    await alice.fetchCsrf();
    expect((await alice.post('/api/cart/items', { sku: 'TEA-EARL', qty: 1 })).status).toBe(201);
    const login = await alice.login('alice', 'wonderland');
    expect({ status: login.status, user: login.body?.user }).toEqual({ status: 200, user: { id: 1, username: 'alice' } });
  });
});
