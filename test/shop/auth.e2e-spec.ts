import Redis from 'ioredis';
import { renewalRecordOf } from '@app/session/redis/session-fields';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { expectError, sidCookie } from './support/expectations';
import { startShopCluster, type ShopCluster } from './support/shop-cluster';
import { ShopClient } from './support/shop-client';

// Logging in and out, the user's sessions, and the failed-login limit, with each step answered by a
// different replica than the one before (round robin), all sharing one Redis.

describe('shop authentication and sessions', () => {
  let redis: RedisServerHandle;
  let redisClient: Redis;
  let shop: ShopCluster;
  const client = (userAgent?: string) => new ShopClient(shop.url, userAgent);

  /**
   * Number of live session hashes in Redis: not the index sets (under sess:user:), nor what renewal
   * leaves for its grace window (a logged-out session's tombstone, a renewed ID's pointer).
   */
  const storedSessions = async () => {
    let live = 0;
    for (const key of (await redisClient.keys('sess:*')).filter((key) => !key.startsWith('sess:user:'))) {
      if ((await redisClient.type(key)) !== 'hash' || renewalRecordOf(await redisClient.hgetall(key)) === 'session') live++;
    }
    return live;
  };

  /** Asks every replica in turn with `cookie`; returns the statuses of GET /api/auth/me and the replicas. */
  async function meOnEveryReplica(cookie: string | undefined) {
    const probe = client();
    probe.cookie = cookie;
    const answers = [];
    for (let i = 0; i < shop.replicaIds.length; i++) answers.push(await probe.get('/api/auth/me'));
    expect(new Set(answers.map((res) => res.replica)).size).toBe(shop.replicaIds.length);
    return answers.map((res) => res.status);
  }

  beforeAll(async () => {
    redis = await startRedis({ controllable: true });
    redisClient = new Redis(redis.url);
    shop = await startShopCluster(redis.url);
  });
  afterAll(async () => {
    await shop?.close();
    redisClient?.disconnect();
    await redis?.stop();
  });
  afterEach(async () => {
    // Each test starts with a clean failure count.
    const keys = await redisClient.keys('shop:login-failures:*');
    if (keys.length > 0) await redisClient.del(...keys);
  });

  describe('POST /api/auth/login', () => {
    it('logs in on one replica; me, cart, sessions and logout are answered by the others', async () => {
      const alice = client();
      await alice.fetchCsrf();
      await alice.post('/api/cart/items', { sku: 'POT-CAST', qty: 1 });
      const login = await alice.login('alice', 'wonderland');
      expect(login.status).toBe(200);
      expect(login.body).toEqual({ user: { id: 1, username: 'alice' }, csrfToken: expect.any(String) });

      const me = await alice.get('/api/auth/me');
      const cart = await alice.get('/api/cart');
      const sessions = await alice.get('/api/auth/sessions');
      expect(me.body).toEqual({ user: { id: 1, username: 'alice' } });
      expect(cart.body.items).toEqual([expect.objectContaining({ sku: 'POT-CAST', qty: 1 })]);
      expect(sessions.body).toEqual([expect.objectContaining({ current: true })]);
      const logout = await alice.post('/api/auth/logout');
      expect(logout.status).toBe(204);
      const replicas = [login, me, cart, sessions, logout].map((res) => res.replica);
      for (let i = 1; i < replicas.length; i++) expect(replicas[i]).not.toBe(replicas[i - 1]);
      expect(new Set(replicas).size).toBe(3);
    });

    it('rotates the session ID: the cart is kept, the CSRF token is new, the old cookie is dead', async () => {
      const visitor = client();
      const anonymousToken = await visitor.fetchCsrf();
      await visitor.post('/api/cart/items', { sku: 'CUP-HATTER', qty: 2 });
      const oldCookie = visitor.cookie!;

      const login = await visitor.login('bob', 'builder');
      const newCookie = sidCookie(login);
      expect(newCookie).toBeDefined();
      expect(visitor.cookie).not.toBe(oldCookie);
      expect(login.body.csrfToken).not.toBe(anonymousToken);
      expect((await visitor.get('/api/cart')).body.items).toEqual([expect.objectContaining({ sku: 'CUP-HATTER', qty: 2 })]);
      // The token of the anonymous session no longer works.
      expectError(await visitor.post('/api/cart/items', { sku: 'CUP-HATTER', qty: 1 }, { 'x-csrf-token': anonymousToken }), 403);

      expect(await meOnEveryReplica(oldCookie)).toEqual([401, 401, 401]);
      const old = client();
      old.cookie = oldCookie;
      expect((await old.get('/api/cart')).body).toEqual({ items: [], total: 0 });
      expect(await meOnEveryReplica(visitor.cookie)).toEqual([200, 200, 200]);
    });

    it('answers 401 with one message for an unknown user and a wrong password alike', async () => {
      const visitor = client();
      const wrong = await visitor.login('alice', 'not-her-password');
      const unknown = await visitor.login('nobody', 'wonderland');
      for (const res of [wrong, unknown]) {
        expect(res.status).toBe(401);
        expect(res.body).toEqual({ statusCode: 401, message: 'Invalid username or password', error: 'Unauthorized' });
      }
      expectError(await visitor.get('/api/auth/me'), 401);
    });

    it.each([
      ['no password', { username: 'alice' }],
      ['an empty username', { username: '', password: 'wonderland' }],
      ['a number as username', { username: 1, password: 'wonderland' }],
      ['an unknown field', { username: 'alice', password: 'wonderland', admin: true }],
    ])('answers 400 to a body with %s, and does not log in', async (_case, body) => {
      const visitor = client();
      await visitor.fetchCsrf();
      expectError(await visitor.post('/api/auth/login', body), 400);
      expectError(await visitor.get('/api/auth/me'), 401);
    });

    it('answers 400 to malformed JSON', async () => {
      const visitor = client();
      await visitor.fetchCsrf();
      expectError(await visitor.raw('POST', '/api/auth/login', '{"username": "alice", "password": '), 400);
    });
  });

  describe('routes for logged-in users', () => {
    it('answer 401 to a visitor, with or without a session', async () => {
      const visitor = client();
      expectError(await visitor.get('/api/auth/me'), 401, 'Not logged in');
      expectError(await visitor.get('/api/auth/sessions'), 401);
      await visitor.fetchCsrf();
      expectError(await visitor.get('/api/auth/me'), 401);
      expectError(await visitor.get('/api/auth/sessions'), 401);
      expectError(await visitor.post('/api/auth/logout-all'), 401);
      expectError(await visitor.delete('/api/auth/sessions/whatever'), 401);
    });
  });

  describe('GET /api/auth/sessions and DELETE /api/auth/sessions/:id', () => {
    it('lists the user’s devices newest first, marks the current one, and never shows a cookie value', async () => {
      const laptop = client('Laptop/1.0');
      const phone = client('Phone/2.0');
      await laptop.login('alice', 'wonderland');
      await phone.login('alice', 'wonderland');

      const fromPhone = await phone.get('/api/auth/sessions');
      const fromLaptop = await laptop.get('/api/auth/sessions');
      expect(fromPhone.status).toBe(200);
      const mine = fromPhone.body.filter((s: { userAgent: string }) => ['Laptop/1.0', 'Phone/2.0'].includes(s.userAgent));
      expect(mine).toEqual([
        { id: expect.any(String), createdAt: expect.any(String), lastSeenAt: expect.any(String), userAgent: 'Phone/2.0', ip: '127.0.0.1', current: true },
        { id: expect.any(String), createdAt: expect.any(String), lastSeenAt: expect.any(String), userAgent: 'Laptop/1.0', ip: '127.0.0.1', current: false },
      ]);
      expect(Date.parse(mine[0].createdAt)).toBeGreaterThanOrEqual(Date.parse(mine[1].createdAt));
      const laptopRow = fromLaptop.body.find((s: { userAgent: string }) => s.userAgent === 'Laptop/1.0');
      expect(laptopRow).toMatchObject({ id: mine[1].id, current: true });
      for (const row of mine) {
        expect(laptop.cookie).not.toContain(row.id);
        expect(phone.cookie).not.toContain(row.id);
      }

      // Revoking the laptop from the phone: the laptop is anonymous on every replica.
      const revoked = await phone.delete(`/api/auth/sessions/${encodeURIComponent(mine[1].id)}`);
      expect(revoked.status).toBe(204);
      expect(await meOnEveryReplica(laptop.cookie)).toEqual([401, 401, 401]);
      expect(await meOnEveryReplica(phone.cookie)).toEqual([200, 200, 200]);
      expectError(await phone.delete(`/api/auth/sessions/${encodeURIComponent(mine[1].id)}`), 404);
      expectError(await phone.delete('/api/auth/sessions/no-such-session'), 404);
    });

    it('answers 404 for another user’s session', async () => {
      const alice = client('alice-device');
      const bob = client('bob-device');
      await alice.login('alice', 'wonderland');
      await bob.login('bob', 'builder');
      const bobs = (await bob.get('/api/auth/sessions')).body.find((s: { current: boolean }) => s.current);
      expectError(await alice.delete(`/api/auth/sessions/${encodeURIComponent(bobs.id)}`), 404);
      expect((await bob.get('/api/auth/me')).status).toBe(200);
    });

    it('revoking the current session leaves the browser anonymous', async () => {
      const device = client('revokes-itself');
      await device.login('bob', 'builder');
      const own = (await device.get('/api/auth/sessions')).body.find((s: { current: boolean }) => s.current);
      expect((await device.delete(`/api/auth/sessions/${encodeURIComponent(own.id)}`)).status).toBe(204);
      expect(await meOnEveryReplica(device.cookie)).toEqual([401, 401, 401]);
    });
  });

  describe('POST /api/auth/logout and /api/auth/logout-all', () => {
    it('logout deletes the session in Redis and clears the cookie', async () => {
      const device = client();
      await device.login('alice', 'wonderland');
      const cookie = device.cookie;
      const before = await storedSessions();
      const res = await device.post('/api/auth/logout');
      expect(res.status).toBe(204);
      expect(sidCookie(res)).toMatch(/^sid=;.*Expires=Thu, 01 Jan 1970/);
      expect(await storedSessions()).toBe(before - 1);
      expect(await meOnEveryReplica(cookie)).toEqual([401, 401, 401]);
    });

    it('logout-all deletes every session of the user on every device, and only that user’s', async () => {
      const devices = [client('a1'), client('a2'), client('a3')];
      for (const device of devices) await device.login('alice', 'wonderland');
      const bob = client('b1');
      await bob.login('bob', 'builder');

      const res = await devices[0].post('/api/auth/logout-all');
      expect(res.status).toBe(204);
      expect(sidCookie(res)).toMatch(/^sid=;/);
      for (const device of devices) expect(await meOnEveryReplica(device.cookie)).toEqual([401, 401, 401]);
      expect(await redisClient.zcard('sess:user:1')).toBe(0);
      expect(await meOnEveryReplica(bob.cookie)).toEqual([200, 200, 200]);
    });
  });

  describe('failed-login limit', () => {
    it('answers 429 after 5 failures for one username, counted across replicas, even to the right password', async () => {
      const attacker = client();
      const replicas = new Set<string | null>();
      for (let i = 0; i < 5; i++) {
        const res = await attacker.login('bob', `guess-${i}`);
        expect(res.status).toBe(401);
        replicas.add(res.replica);
      }
      expect(replicas.size).toBeGreaterThan(1);

      // Another client, a new session, the right password: still refused, by every replica.
      const owner = client();
      for (let i = 0; i < 3; i++) {
        const res = await owner.login('bob', 'builder');
        expectError(res, 429, /Too many failed logins for "bob"/);
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(14 * 60);
        replicas.add(res.replica);
      }
      expect(replicas.size).toBe(3);
      // Other usernames are not affected.
      expect((await owner.login('alice', 'wonderland')).status).toBe(200);
    });

    it('counts unknown usernames too, and not successful logins', async () => {
      const visitor = client();
      for (let i = 0; i < 5; i++) expect((await visitor.login('mallory', 'x')).status).toBe(401);
      expectError(await visitor.login('mallory', 'x'), 429);

      for (let i = 0; i < 4; i++) expect((await visitor.login('alice', 'wrong')).status).toBe(401);
      for (let i = 0; i < 3; i++) expect((await client().login('alice', 'wonderland')).status).toBe(200);
      expect((await visitor.login('alice', 'wrong')).status).toBe(401); // the fifth failure
      expectError(await visitor.login('alice', 'wonderland'), 429);
    });

    it('cannot be outrun by parallel guesses', async () => {
      const guesses = await Promise.all(Array.from({ length: 12 }, (_, i) => client().login('bob', `parallel-${i}`)));
      const statuses = guesses.map((res) => res.status).sort();
      expect(statuses.filter((s) => s === 401)).toHaveLength(5);
      expect(statuses.filter((s) => s === 429)).toHaveLength(7);
    });
  });
});
