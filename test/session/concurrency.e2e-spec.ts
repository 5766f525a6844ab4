import Redis from 'ioredis';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { sessionRedisKey } from '../support/key-scheme';
import { startReplicas, type RunningApp } from './support/session-app';
import { Visitor } from './support/http-client';
import { sessionIdOf } from './support/event-log';
import { gates } from './support/gates';

/** Concurrent requests of one session, on one replica or several, never lose each other's changes. */
describe('concurrent requests of one session', () => {
  let redis: RedisServerHandle;
  let admin: Redis;
  let replicas: RunningApp[];
  const prefix = uniquePrefix('concurrency');

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    replicas = await startReplicas(3, { redis: redis.url, prefix });
  });

  afterAll(async () => {
    await Promise.all((replicas ?? []).map((replica) => replica.close()));
    admin?.disconnect();
    await redis?.stop();
  });

  /** Every key under the prefix with its TTL in ms (-1: none). */
  async function keysWithTtl(): Promise<Record<string, number>> {
    const keys = await admin.keys(`${prefix}*`);
    return Object.fromEntries(await Promise.all(keys.map(async (key) => [key, await admin.pttl(key)] as const)));
  }

  /** Visitors that share one cookie but send each request to the next replica, round robin. */
  function roundRobin(cookie?: string) {
    let next = 0;
    const visitor = new Visitor(() => replicas[next++ % replicas.length].url);
    visitor.cookie = cookie;
    return visitor;
  }

  it('keeps changes to different keys made by parallel requests (delta writes)', async () => {
    const visitor = roundRobin();
    await visitor.post('/set/seed', { value: 0 });
    const keys = Array.from({ length: 12 }, (_, i) => `k${i}`);
    // Each request loads the session and waits at the gate until all of them have: then each writes its own key.
    const gate = gates.unique('delta');
    const writes = Promise.all(keys.map((key, i) => roundRobin(visitor.cookie).post(`/set/${key}`, { value: i, gate })));
    await gates.arrived(gate, keys.length);
    gates.open(gate);
    expect((await writes).map((res) => res.status)).toEqual(Array(keys.length).fill(200));
    const res = await visitor.get('/whole');
    for (const [i, key] of keys.entries()) expect(res.body[key]).toBe(i);
  });

  it('keeps all 50 items added in parallel through SessionService.update over three replicas', async () => {
    const visitor = roundRobin();
    await visitor.post('/set/seed', { value: 1 });
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => roundRobin(visitor.cookie).post('/items', { item: `item-${i}` })));
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
    const { body } = await visitor.get('/whole');
    expect(body.items).toHaveLength(50);
    expect(new Set(body.items)).toEqual(new Set(Array.from({ length: 50 }, (_, i) => `item-${i}`)));
  });

  it('does not let a request still in flight undo a logout', async () => {
    const visitor = roundRobin();
    await visitor.post('/login', { id: 'racer' });
    const cookie = visitor.cookie!;
    const key = sessionRedisKey(prefix, sessionIdOf(cookie));
    expect(await admin.exists(key)).toBe(1);
    // A request loads the session and is held; the logout happens; then the held request writes.
    const gate = gates.unique('logout');
    const held = roundRobin(cookie).post('/set/late', { value: 'written after logout', gate });
    await gates.arrived(gate);
    const logout = await roundRobin(cookie).post('/logout');
    expect(logout.status).toBe(204);
    gates.open(gate);
    expect((await held).status).toBe(200);

    // Nothing of the session is left in Redis: no husk written by the late save, no index entry without a TTL.
    expect(await admin.exists(key)).toBe(0);
    const left = await keysWithTtl();
    expect(Object.keys(left).filter((k) => k === key)).toEqual([]);
    for (const [k, ttl] of Object.entries(left)) expect([k, ttl > 0]).toEqual([k, true]);

    const replay = roundRobin(cookie);
    for (let i = 0; i < replicas.length; i++) {
      expect((await replay.get('/me')).status).toBe(401);
      expect((await replay.get('/peek')).body).toEqual({ views: null });
    }
  });

  /** No key under the prefix (a session's hash, a user's index) holds `text` in any value. */
  async function expectNoKeyHolds(text: string): Promise<void> {
    for (const key of await admin.keys(`${prefix}*`)) {
      const type = await admin.type(key);
      const values = type === 'hash' ? Object.values(await admin.hgetall(key)) : type === 'zset' ? await admin.zrange(key, '0', '-1') : [];
      expect([key, values.some((value) => value.includes(text))]).toEqual([key, false]);
    }
  }

  it.each([
    { how: "SessionService's regenerate", route: '/regenerate', body: {} },
    { how: "@fastify/session's regenerate keeping keys", route: '/regenerate-keeping', body: { keep: ['user', 'views'] } },
  ])('does not let $how still in flight bring back a session logged out meanwhile', async ({ route, body }) => {
    const visitor = roundRobin();
    const userId = `racer-of-${route.slice(1)}`;
    await visitor.post('/login', { id: userId });
    await visitor.post('/set/views', { value: 3 });
    const cookie = visitor.cookie!;
    // The regenerate has read the session (user included) and is held; the logout happens; then it runs.
    const gate = gates.unique(`${route}-after-logout`);
    const held = roundRobin(cookie).post(route, { ...body, gate });
    await gates.arrived(gate);
    expect((await roundRobin(cookie).post('/logout')).status).toBe(204);
    gates.open(gate);
    const regenerated = await held;
    expect(regenerated.status).toBe(204);
    // It started from nothing (whatever it was asked to keep belonged to the ended session): no cookie
    // for a new session, and no key in Redis holds the user.
    expect(regenerated.setCookie).toBeFalsy();
    await expectNoKeyHolds(userId);
    expect((await roundRobin(cookie).get('/me')).status).toBe(401);
  });

  it('keeps the listed keys under the new ID when nothing ended the session', async () => {
    const visitor = roundRobin();
    await visitor.post('/set/views', { value: 4 });
    await visitor.post('/set/theme', { value: 'dark' });
    const before = visitor.cookie!;
    expect((await visitor.post('/regenerate-keeping', { keep: ['views'] })).status).toBe(204);
    expect(visitor.cookie).not.toBe(before);
    expect((await visitor.get('/whole')).body).toMatchObject({ views: 4 });
    expect((await visitor.get('/whole')).body).not.toHaveProperty('theme');
    expect((await roundRobin(before).get('/peek')).body).toEqual({ views: null });
  });

  it('does not let a request still in flight undo the rotation of a login', async () => {
    const visitor = roundRobin();
    await visitor.post('/set/views', { value: 7 });
    const oldCookie = visitor.cookie!;
    const gate = gates.unique('rotation');
    const held = roundRobin(oldCookie).post('/set/late', { value: true, gate });
    await gates.arrived(gate);
    await visitor.post('/login', { id: 'rotator' });
    gates.open(gate);
    expect((await held).status).toBe(200);
    expect(visitor.cookie).not.toEqual(oldCookie);
    // The old ID's key is gone for good: the held request's save did not bring it back.
    expect(await admin.exists(sessionRedisKey(prefix, sessionIdOf(oldCookie)))).toBe(0);
    expect(await admin.exists(sessionRedisKey(prefix, sessionIdOf(visitor.cookie!)))).toBe(1);
    expect((await roundRobin(oldCookie).get('/peek')).body).toEqual({ views: null });
    expect((await visitor.get('/peek')).body).toEqual({ views: 7 });
  });

  it('two csrfToken() calls at once on a session without a token (two tabs, two replicas) hand out one token, valid for both', async () => {
    const visitor = new Visitor(replicas[0].url);
    expect((await visitor.post('/inc')).status).toBe(200);
    const tab = (replica: RunningApp) => Object.assign(new Visitor(replica.url), { cookie: visitor.cookie });
    const [first, second] = [gates.unique('csrf-first'), gates.unique('csrf-second')];
    const tabOne = tab(replicas[0]).get(`/csrf?gate=${first}`);
    const tabTwo = tab(replicas[1]).get(`/csrf?gate=${second}`);
    await Promise.all([gates.arrived(first), gates.arrived(second)]); // both read the session: no token yet
    gates.open(first);
    const one = await tabOne;
    gates.open(second);
    const two = await tabTwo;
    expect(two.body.csrfToken).toBe(one.body.csrfToken);
    expect((await tab(replicas[2]).post('/protected', {}, { 'x-csrf-token': one.body.csrfToken })).status).toBe(200);
  });

  // A request's save computes its expiry from its own copy of the cookie, read before: a shorter window
  // app code set meanwhile (a lowered maxAge, acknowledged) must not be slid back to the module's.
  it.each([
    ['a change saved at the end of the request', '/set/late', { value: 'x' }],
    ['SessionService.update', '/items', { item: 'x' }],
  ])('%s, held while another replica lowers the cookie maxAge, keeps its change and the shorter window', async (_how, route, body) => {
    const visitor = new Visitor(replicas[0].url);
    expect((await visitor.post('/set/views', { value: 1 })).status).toBe(200);
    const on = (replica: RunningApp) => Object.assign(new Visitor(replica.url), { cookie: visitor.cookie });
    const key = sessionRedisKey(prefix, sessionIdOf(visitor.cookie!));
    const gate = gates.unique('max-age');
    const held = on(replicas[1]).post(route, { ...body, gate });
    await gates.arrived(gate); // its session (the module's 30 min window) is loaded
    expect((await on(replicas[2]).post('/cookie-max-age', { ms: 5_000 })).status).toBe(200);
    gates.open(gate);
    expect((await held).status).toBe(200);
    expect(Object.values(await admin.hgetall(key)).some((value) => value.includes('"x"'))).toBe(true);
    expect(await admin.pttl(key)).toBeLessThanOrEqual(5_000);
  });
});
