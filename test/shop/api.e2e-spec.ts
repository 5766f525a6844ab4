import { startRedis, type RedisServerHandle } from '../support/redis';
import { expectError, sidCookie } from './support/expectations';
import { platformOfReplica, startShopCluster, type ShopCluster } from './support/shop-cluster';
import { ShopClient } from './support/shop-client';

// The shop's HTTP contract (docs/shop-api.md) route by route, through the round-robin
// balancer in front of three replicas that share one Redis.

const PAGE_HOOKS = ['replica', 'login-username', 'login-password', 'login-submit', 'login-error', 'user', 'cart-total', 'logout', 'logout-all'];

describe('shop API', () => {
  let redis: RedisServerHandle;
  let shop: ShopCluster;
  const client = () => new ShopClient(shop.url);

  beforeAll(async () => {
    redis = await startRedis({ controllable: true });
    shop = await startShopCluster(redis.url);
  });
  afterAll(async () => {
    await shop?.close();
    await redis?.stop();
  });

  describe('every response', () => {
    it('names its replica in X-Replica, and consecutive requests reach every replica', async () => {
      const visitor = client();
      const paths = ['/', '/health', '/api/products', '/api/cart', '/nope', '/api/auth/me'];
      const answers = await Promise.all(paths.map((path) => visitor.get(path)));
      for (const res of answers) expect(shop.replicaIds).toContain(res.replica);
      expect(new Set(answers.map((res) => res.replica)).size).toBe(3);
    });

    it('answers an unknown route with a JSON 404', async () => {
      expectError(await client().get('/api/nothing-here'), 404);
    });
  });

  describe('GET /', () => {
    it('serves the page with every data-test hook of the contract, and its script and styles', async () => {
      const page = await client().get<string>('/');
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/text\/html/);
      for (const hook of PAGE_HOOKS) expect(page.body).toContain(`data-test="${hook}"`);
      const script = await client().get<string>('/app.js');
      for (const hook of ['product', 'add', 'cart-line', 'qty', 'remove', 'session', 'revoke']) {
        expect(script.body).toContain(`'data-test': '${hook}'`);
      }
      expect(script.body).toContain("'data-current'");
      expect((await client().get('/style.css')).status).toBe(200);
      expect(sidCookie(page)).toBeUndefined();
    });
  });

  describe('GET /health', () => {
    it('answers ok with the replica that answered and its platform', async () => {
      const res = await client().get('/health');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: 'ok', replica: res.replica, platform: platformOfReplica(res.replica!) });
    });
  });

  describe('GET /api/products', () => {
    it('lists at least 8 products with sku, name and a price in cents, without creating a session', async () => {
      const res = await client().get('/api/products');
      expect(res.status).toBe(200);
      expect(res.body.length).toBeGreaterThanOrEqual(8);
      for (const product of res.body) {
        expect(Object.keys(product).sort()).toEqual(['name', 'price', 'sku']);
        expect(Number.isInteger(product.price)).toBe(true);
      }
      expect(sidCookie(res)).toBeUndefined();
    });
  });

  describe('GET /api/cart', () => {
    it('gives a visitor without a session an empty cart and no cookie', async () => {
      const res = await client().get('/api/cart');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ items: [], total: 0 });
      expect(res.setCookies).toEqual([]);
    });
  });

  describe('GET /api/csrf and the session cookie', () => {
    it('creates the session: sid, HttpOnly, SameSite=Lax, Path=/, not Secure over plain HTTP', async () => {
      const visitor = client();
      const res = await visitor.get('/api/csrf');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ csrfToken: expect.stringMatching(/^[\w-]{20,}$/) });
      const cookie = sidCookie(res)!;
      expect(cookie).toMatch(/; HttpOnly/);
      expect(cookie).toMatch(/; SameSite=Lax/);
      expect(cookie).toMatch(/; Path=\//);
      expect(cookie).not.toMatch(/Secure/);
      // The same session answers with the same token on another replica, and sets no new cookie.
      visitor.cookie = cookie.split(';')[0];
      const again = await visitor.get('/api/csrf');
      expect(again.replica).not.toBe(res.replica);
      expect(again.body.csrfToken).toBe(res.body.csrfToken);
      expect(sidCookie(again)).toBeUndefined();
    });

    it('marks the cookie Secure when the one trusted proxy says the request came over HTTPS', async () => {
      const res = await fetch(`${shop.replicaUrls[0]}/api/csrf`, { headers: { 'x-forwarded-proto': 'https' } });
      expect(res.headers.getSetCookie().find((line) => line.startsWith('sid='))).toMatch(/; Secure/);
    });
  });

  describe('POST /api/cart/items and DELETE /api/cart/items/:sku', () => {
    it('lets an anonymous visitor fill a cart, every replica seeing the same cart', async () => {
      const visitor = client();
      await visitor.fetchCsrf();
      const added = await visitor.post('/api/cart/items', { sku: 'TEA-EARL', qty: 2 });
      expect(added.status).toBe(201);
      expect(added.body).toEqual({ items: [{ sku: 'TEA-EARL', name: expect.any(String), price: 650, qty: 2 }], total: 1300 });
      const more = await visitor.post('/api/cart/items', { sku: 'TEA-EARL', qty: 3 });
      const other = await visitor.post('/api/cart/items', { sku: 'MUG-WHITE', qty: 1 });
      expect(more.body.items[0].qty).toBe(5);
      expect(other.body.total).toBe(5 * 650 + 1200);
      const seen = await Promise.all([1, 2, 3].map(() => visitor.get('/api/cart')));
      expect(new Set(seen.map((res) => res.replica)).size).toBe(3);
      for (const res of seen) expect(res.body).toEqual(other.body);

      const removed = await visitor.delete('/api/cart/items/TEA-EARL');
      expect(removed.status).toBe(200);
      expect(removed.body).toEqual({ items: [{ sku: 'MUG-WHITE', name: expect.any(String), price: 1200, qty: 1 }], total: 1200 });
      expectError(await visitor.delete('/api/cart/items/TEA-EARL'), 404, 'Your cart has no line for sku "TEA-EARL"');
      expectError(await visitor.delete('/api/cart/items/NOT-A-SKU'), 404);
    });

    describe('refuses bad input with 400 and changes nothing', () => {
      let visitor: ShopClient;
      let before: unknown;

      beforeAll(async () => {
        visitor = client();
        await visitor.fetchCsrf();
        before = (await visitor.post('/api/cart/items', { sku: 'JAM-TART', qty: 1 })).body;
      });
      afterEach(async () => {
        expect((await visitor.get('/api/cart')).body).toEqual(before);
      });

      it.each([
        ['an unknown sku', { sku: 'NOPE', qty: 1 }, /sku "NOPE" is not in the catalog/],
        ['qty 0', { sku: 'JAM-TART', qty: 0 }, /qty must be a whole number from 1 to 99/],
        ['qty 100', { sku: 'JAM-TART', qty: 100 }, /qty must be a whole number from 1 to 99/],
        ['qty 1.5', { sku: 'JAM-TART', qty: 1.5 }, /qty must be a whole number from 1 to 99/],
        ['qty "2"', { sku: 'JAM-TART', qty: '2' }, /qty must be a whole number from 1 to 99/],
        ['qty -1', { sku: 'JAM-TART', qty: -1 }, /qty must be a whole number/],
        ['no qty', { sku: 'JAM-TART' }, /qty must be a whole number/],
        ['no sku', { qty: 1 }, /sku is required/],
        ['an unknown field', { sku: 'JAM-TART', qty: 1, price: 1 }, /property price should not exist/],
        ['an array', [{ sku: 'JAM-TART', qty: 1 }], /sku/],
      ])('%s', async (_case, body, message) => {
        expectError(await visitor.post('/api/cart/items', body), 400, message);
      });

      it('malformed JSON', async () => {
        expectError(await visitor.raw('POST', '/api/cart/items', '{"sku":"JAM-TART",'), 400);
      });

      it('a body that is not JSON', async () => {
        expectError(await visitor.raw('POST', '/api/cart/items', 'sku=JAM-TART&qty=1', 'application/x-www-form-urlencoded'), 400);
      });

      it('a body too large (413, same error shape)', async () => {
        expectError(await visitor.raw('POST', '/api/cart/items', JSON.stringify({ sku: 'x'.repeat(200_000), qty: 1 })), 413);
      });
    });
  });

  describe('CSRF', () => {
    let visitor: ShopClient;
    let before: unknown;

    beforeAll(async () => {
      visitor = client();
      await visitor.fetchCsrf();
      before = (await visitor.post('/api/cart/items', { sku: 'BISC-BUTTER', qty: 2 })).body;
    });

    it.each([
      ['missing', ''],
      ['wrong', 'not-the-token'],
    ])('answers 403 to a change with the token %s, and nothing changes', async (_case, token) => {
      const header = { 'x-csrf-token': token };
      expectError(await visitor.post('/api/cart/items', { sku: 'BISC-BUTTER', qty: 1 }, header), 403, 'Missing or invalid CSRF token');
      expectError(await visitor.delete('/api/cart/items/BISC-BUTTER', header), 403);
      expectError(await visitor.post('/api/auth/login', { username: 'alice', password: 'wonderland' }, header), 403);
      expectError(await visitor.post('/api/auth/logout', undefined, header), 403);
      expect((await visitor.get('/api/cart')).body).toEqual(before);
      expectError(await visitor.get('/api/auth/me'), 401);
    });

    it('refuses another session’s token', async () => {
      const other = client();
      await other.fetchCsrf();
      expectError(await visitor.post('/api/cart/items', { sku: 'BISC-BUTTER', qty: 1 }, { 'x-csrf-token': other.csrfToken! }), 403);
      expect((await visitor.get('/api/cart')).body).toEqual(before);
    });

    it('answers 403 to a visitor without a session, and sets no cookie', async () => {
      const stranger = client();
      const res = await stranger.post('/api/cart/items', { sku: 'BISC-BUTTER', qty: 1 }, { 'x-csrf-token': 'anything' });
      expectError(res, 403);
      expect(res.setCookies).toEqual([]);
    });
  });
});
