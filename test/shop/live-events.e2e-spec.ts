import { startRedis, type RedisServerHandle } from '../support/redis';
import { waitUntil } from '../support/probe';
import { startShopCluster, type ShopCluster } from './support/shop-cluster';
import { ShopClient } from './support/shop-client';

// The page's live list of session events (GET /api/events, an addition to the contract): the shop
// runs with cross-replica events, so every replica lists what happened on any of them.

describe('shop: live session events', () => {
  let redis: RedisServerHandle;
  let shop: ShopCluster;

  beforeAll(async () => {
    redis = await startRedis({ controllable: true });
    shop = await startShopCluster(redis.url);
  });
  afterAll(async () => {
    await shop?.close();
    await redis?.stop();
  });

  type Line = { type: string; session: string; userId: string | null; replica: string; at: string };

  it('lists a login on every replica, whichever replica served it, and only to a logged-in user', async () => {
    expect((await new ShopClient(shop.url).get('/api/events')).status).toBe(401);
    const alice = new ShopClient(shop.url);
    expect((await alice.login('alice', 'wonderland')).status).toBe(200);
    const bob = new ShopClient(shop.url);
    expect((await bob.login('bob', 'builder')).status).toBe(200);

    for (const replicaUrl of shop.replicaUrls) {
      const onReplica = new ShopClient(replicaUrl);
      onReplica.cookie = alice.cookie;
      let lines: Line[] = [];
      await waitUntil(`both logins listed by ${replicaUrl}`, async () => {
        const res = await onReplica.get<Line[]>('/api/events');
        lines = res.body;
        return res.status === 200 && ['1', '2'].every((user) => lines.some((line) => line.type === 'login' && line.userId === user));
      });
      for (const line of lines) {
        expect(Object.keys(line).sort()).toEqual(['at', 'replica', 'session', 'type', 'userId']);
        expect(shop.replicaIds).toContain(line.replica);
        expect(line.session).toMatch(/^[\w-]{8}$/);
      }
      // Each login once, whichever replica lists it.
      expect(lines.filter((line) => line.type === 'login')).toHaveLength(2);
    }
    const page = await alice.get<string>('/');
    expect(page.body).toContain('data-test="events"');
    expect((await alice.get<string>('/events.js')).body).toContain("'data-test', 'event'");
  });
});
