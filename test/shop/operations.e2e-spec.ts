import { startRedis, type RedisServerHandle } from '../support/redis';
import { startShopCluster, type ShopCluster } from './support/shop-cluster';
import { ShopClient } from './support/shop-client';

// GET /metrics and the operations panel's assets (docs/shop-api.md: /metrics, METRICS_TOKEN).

describe('shop operations', () => {
  let redis: RedisServerHandle;
  beforeAll(async () => (redis = await startRedis()));
  afterAll(() => redis?.stop());

  describe('with /metrics open', () => {
    let shop: ShopCluster;
    beforeAll(async () => (shop = await startShopCluster(redis.url)));
    afterAll(() => shop?.close());

    it("serves each replica's own figures as Prometheus text", async () => {
      const visitor = new ShopClient(shop.url);
      await visitor.get('/api/csrf'); // creates a session
      const res = await fetch(`${shop.replicaUrls[0]}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain;.*version=0\.0\.4/);
      const text = await res.text();
      // The one session was created on one replica, whichever the balancer picked.
      const created = await Promise.all(
        shop.replicaUrls.map(async (url) => Number(/^sessions_created_total (\d+)$/m.exec(await (await fetch(`${url}/metrics`)).text())?.[1])),
      );
      expect(created.reduce((a, b) => a + b, 0)).toBe(1);
      for (const name of [
        'session_store_duration_seconds_bucket',
        'sessions_created_total',
        'sessions_active',
        'session_users_active',
        'shop_http_requests_total',
      ]) {
        expect(text).toContain(name);
      }
      expect(text).not.toMatch(/sid=|s%3A/); // no cookie, no session ID
    });

    it('serves the chart library of the operations panel from the installed package', async () => {
      const res = await fetch(`${shop.url}/vendor/uplot/uPlot.iife.min.js`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('uPlot');
      const page = await (await fetch(`${shop.url}/`)).text();
      expect(page).toContain('/vendor/uplot/uPlot.iife.min.js');
      expect(page).toContain('data-test="ops-active"');
    });
  });

  describe('with METRICS_TOKEN set', () => {
    let shop: ShopCluster;
    beforeAll(async () => (shop = await startShopCluster(redis.url, 1, { METRICS_TOKEN: 'scrape-token-123' })));
    afterAll(() => shop?.close());

    it('asks for the bearer token', async () => {
      expect((await fetch(`${shop.url}/metrics`)).status).toBe(401);
      expect((await fetch(`${shop.url}/metrics`, { headers: { authorization: 'Bearer wrong-token-123' } })).status).toBe(401);
      const res = await fetch(`${shop.url}/metrics`, { headers: { authorization: 'Bearer scrape-token-123' } });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('session_store_duration_seconds');
    });
  });
});
