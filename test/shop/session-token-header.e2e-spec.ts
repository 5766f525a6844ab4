import Redis from 'ioredis';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { expectError } from './support/expectations';
import { startShopCluster, type ShopCluster } from './support/shop-cluster';
import { ShopClient, type ShopResponse } from './support/shop-client';
import { ShopTokenClient, TOKEN_HEADER } from './support/shop-token-client';

/** The signed value `s:<id>.<mac>` the shop hands out in X-Session-Token. */
const SIGNED = /^s:[\w-]{32}\.[\w+/]{43}$/;

// A client without cookies (docs/shop-api.md, last paragraphs of "Routes"): X-Session-Token instead of the cookie, on
// three replicas behind the round-robin balancer, no CSRF token ever sent.

describe('shop sessions carried in X-Session-Token', () => {
  let redis: RedisServerHandle;
  let redisClient: Redis;
  let shop: ShopCluster;

  beforeAll(async () => {
    redis = await startRedis();
    redisClient = new Redis(redis.url);
    shop = await startShopCluster(redis.url);
  });
  afterAll(async () => {
    await shop?.close();
    redisClient?.disconnect();
    await redis?.stop();
  });
  afterEach(async () => {
    const keys = await redisClient.keys('shop:login-failures:*');
    if (keys.length > 0) await redisClient.del(...keys);
  });

  /** GET /api/auth/me with `token` on every replica in turn: the statuses. */
  async function meOnEveryReplica(token: string): Promise<number[]> {
    const probe = new ShopTokenClient(shop.url);
    const answers: ShopResponse[] = [];
    for (let i = 0; i < shop.replicaIds.length; i++) answers.push(await probe.get('/api/auth/me', { [TOKEN_HEADER]: token }));
    expect(new Set(answers.map((res) => res.replica)).size).toBe(shop.replicaIds.length);
    return answers.map((res) => res.status);
  }

  it('drives cart, login and logout by the header alone across replicas: no cookie, no CSRF token, a new token at each change', async () => {
    const app = new ShopTokenClient(shop.url);
    const added = await app.post('/api/cart/items', { sku: 'POT-CAST', qty: 2 });
    expect(added.status).toBe(201);
    const firstToken = added.headers.get(TOKEN_HEADER);
    expect(firstToken).toMatch(SIGNED); // the first session

    const cart = await app.get('/api/cart');
    expect(cart.body.items).toEqual([expect.objectContaining({ sku: 'POT-CAST', qty: 2 })]);
    expect(cart.headers.get(TOKEN_HEADER)).toBeNull(); // unchanged: nothing to announce

    const login = await app.post('/api/auth/login', { username: 'alice', password: 'wonderland' });
    expect(login.status).toBe(200);
    expect(login.body).toEqual({ user: { id: 1, username: 'alice' }, csrfToken: expect.any(String) });
    const loginToken = login.headers.get(TOKEN_HEADER);
    expect(loginToken).toMatch(SIGNED);
    expect(loginToken).not.toBe(firstToken);

    const me = await app.get('/api/auth/me');
    expect(me.body).toEqual({ user: { id: 1, username: 'alice' } });
    const more = await app.post('/api/cart/items', { sku: 'CUP-HATTER', qty: 1 });
    expect(more.status).toBe(201);
    expect(more.body.items).toEqual([expect.objectContaining({ sku: 'POT-CAST', qty: 2 }), expect.objectContaining({ sku: 'CUP-HATTER', qty: 1 })]);
    const removed = await app.delete('/api/cart/items/POT-CAST');
    expect(removed.status).toBe(200);
    const sessions = await app.get('/api/auth/sessions');
    expect(sessions.body).toEqual([expect.objectContaining({ current: true })]);

    const logout = await app.post('/api/auth/logout');
    expect(logout.status).toBe(204);
    expect(logout.headers.get(TOKEN_HEADER)).toBe('');

    const answers = [added, cart, login, me, more, removed, sessions, logout];
    expect(answers.map((res) => res.setCookies)).toEqual(answers.map(() => []));
    const replicas = answers.map((res) => res.replica);
    for (let i = 1; i < replicas.length; i++) expect(replicas[i]).not.toBe(replicas[i - 1]);
    expect(new Set(replicas).size).toBe(3);

    // Both tokens are dead everywhere: the anonymous one since login, the logged-in one since logout.
    expect(await meOnEveryReplica(loginToken!)).toEqual([401, 401, 401]);
    const oldCart = await new ShopTokenClient(shop.url).get('/api/cart', { [TOKEN_HEADER]: firstToken! });
    expect(oldCart.body.items).toEqual([]);
  });

  it.each([
    ['garbage', 'not-a-token'],
    ['an unsigned ID', 's:abc123'],
    ['bad percent-encoding', 's%3A%E0%A4%A.x'],
    ['a forged signature', `s:${'A'.repeat(32)}.${'B'.repeat(43)}`],
  ])('treats a malformed or forged token (%s) as no session: 401, never a 500', async (_case, token) => {
    const owner = new ShopTokenClient(shop.url);
    await owner.post('/api/auth/login', { username: 'alice', password: 'wonderland' });
    expect((await owner.get('/api/auth/me')).status).toBe(200); // the same route knows a well-formed token
    const stranger = new ShopTokenClient(shop.url);
    expectError(await stranger.get('/api/auth/me', { [TOKEN_HEADER]: token }), 401);
    const cart = await stranger.get('/api/cart', { [TOKEN_HEADER]: token });
    expect(cart.status).toBe(200);
    expect(cart.body.items).toEqual([]);
  });

  it("refuses a forged signature on a real session's ID, and leaves that session alone", async () => {
    const owner = new ShopTokenClient(shop.url);
    await owner.post('/api/auth/login', { username: 'alice', password: 'wonderland' });
    const id = owner.token!.slice(2).split('.')[0];
    const forged = `s:${id}.${'B'.repeat(43)}`;
    expectError(await new ShopTokenClient(shop.url).get('/api/auth/me', { [TOKEN_HEADER]: forged }), 401);
    expect((await owner.get('/api/auth/me')).status).toBe(200);
  });

  it('still refuses a cookie request without a CSRF token when it also carries the header; the header alone passes', async () => {
    const browser = new ShopClient(shop.url);
    await browser.login('alice', 'wonderland');
    const tokenOfCookie = decodeURIComponent(browser.cookie!.slice('sid='.length));
    const withBoth = await browser.post('/api/cart/items', { sku: 'BISC-BUTTER', qty: 1 }, { 'x-csrf-token': '', [TOKEN_HEADER]: tokenOfCookie });
    expectError(withBoth, 403, 'Missing or invalid CSRF token');
    expectError(await browser.post('/api/cart/items', { sku: 'BISC-BUTTER', qty: 1 }, { 'x-csrf-token': '' }), 403);
    expect((await browser.get('/api/cart')).body.items).toEqual([]);

    // The same session, named by the header alone (no cookie): no token needed, and no cookie set.
    const app = new ShopTokenClient(shop.url);
    app.token = tokenOfCookie;
    const added = await app.post('/api/cart/items', { sku: 'BISC-BUTTER', qty: 1 });
    expect(added.status).toBe(201);
    expect(added.setCookies).toEqual([]);
    expect((await browser.get('/api/cart')).body.items).toEqual([expect.objectContaining({ sku: 'BISC-BUTTER', qty: 1 })]);
  });

  it('logs out everywhere by the header: every token of the user dies and this one comes back empty', async () => {
    const phone = new ShopTokenClient(shop.url);
    const tablet = new ShopTokenClient(shop.url);
    await phone.post('/api/auth/login', { username: 'alice', password: 'wonderland' });
    await tablet.post('/api/auth/login', { username: 'alice', password: 'wonderland' });
    const [phoneToken, tabletToken] = [phone.token!, tablet.token!];
    const out = await phone.post('/api/auth/logout-all');
    expect(out.status).toBe(204);
    expect(out.headers.get(TOKEN_HEADER)).toBe('');
    expect(out.setCookies).toEqual([]);
    expect(await meOnEveryReplica(phoneToken)).toEqual([401, 401, 401]);
    expect(await meOnEveryReplica(tabletToken)).toEqual([401, 401, 401]);
  });
});
