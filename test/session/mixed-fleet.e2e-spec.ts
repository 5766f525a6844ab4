import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { waitUntil } from '../support/probe';
import type { TestHttpPlatform } from '../support/http-platform';
import { startSessionApp, type RunningApp } from './support/session-app';
import { Visitor } from './support/http-client';
import { gates } from './support/gates';

/**
 * One fleet, two platforms: Express, Fastify and Express replicas on one Redis behind a round-robin
 * balancer, as while a team moves one replica at a time. The same cookie, header token and stored
 * format, so every guarantee of one platform holds across the mix.
 */
describe('a mixed fleet of Express and Fastify replicas', () => {
  const platforms: TestHttpPlatform[] = ['express', 'fastify', 'express'];
  let redis: RedisServerHandle;
  let replicas: RunningApp[];

  beforeAll(async () => {
    redis = await startRedis({ controllable: true });
    const options = { redis: redis.url, prefix: uniquePrefix('mixed'), idFrom: { header: 'X-Session-Token', cookie: true } };
    replicas = [];
    for (const platform of platforms) replicas.push(await startSessionApp(options, [], platform));
  });

  afterAll(async () => {
    await Promise.all((replicas ?? []).map((replica) => replica.close()));
    await redis?.stop();
  });

  /** A browser whose every request goes to the next replica, whatever its platform. */
  function roundRobin(cookie?: string): Visitor {
    let next = 0;
    const visitor = new Visitor(() => replicas[next++ % replicas.length].url);
    visitor.cookie = cookie;
    return visitor;
  }

  /** The same browser (cookie) on one replica. */
  const on = (index: number, cookie: string | undefined): Visitor => Object.assign(new Visitor(replicas[index].url), { cookie });

  it('runs on both platforms', () => {
    expect(replicas.map((replica) => replica.app.getHttpAdapter().getType())).toEqual(platforms);
  });

  it('serves a session made on either platform from the other, by cookie and by header token', async () => {
    for (const [from, to] of [
      [0, 1],
      [1, 2],
    ]) {
      const visitor = on(from, undefined);
      await visitor.post('/login', { id: `user-${from}` });
      expect(visitor.cookie).toMatch(/^sid=s%3A/);
      const res = await on(to, visitor.cookie).get('/me');
      expect(res.body).toEqual({ user: { id: `user-${from}`, name: `user-${from}` } });
    }
    // A client without cookies: the token the Fastify replica hands out opens the session on Express.
    const login = await fetch(`${replicas[1].url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-session-token': '' },
      body: JSON.stringify({ id: 'token-user' }),
    });
    const token = login.headers.get('x-session-token');
    expect(token).toMatch(/^s:/);
    expect(login.headers.get('set-cookie')).toBeNull();
    for (const replica of replicas) {
      const me = await fetch(`${replica.url}/me`, { headers: { 'x-session-token': token! } });
      expect(await me.json()).toEqual({ user: { id: 'token-user', name: 'token-user' } });
    }
  });

  it('keeps all 50 items added in parallel over the mixed replicas', async () => {
    const visitor = roundRobin();
    await visitor.post('/set/seed', { value: 1 });
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => roundRobin(visitor.cookie).post('/items', { item: `item-${i}` })));
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
    const { body } = await visitor.get('/whole');
    expect(new Set(body.items)).toEqual(new Set(Array.from({ length: 50 }, (_, i) => `item-${i}`)));
  });

  it('does not let a request in flight on one platform undo a logout made on the other', async () => {
    for (const [slowOn, logoutOn] of [
      [1, 0],
      [0, 1],
    ]) {
      const visitor = on(logoutOn, undefined);
      await visitor.post('/login', { id: `racer-${slowOn}` });
      const cookie = visitor.cookie;
      // The held request loads the session, then writes after the logout has happened.
      const gate = gates.unique(`mixed-logout-${slowOn}`);
      const held = on(slowOn, cookie).post('/set/late', { value: 'written after logout', gate });
      await gates.arrived(gate);
      expect((await on(logoutOn, cookie).post('/logout')).status).toBe(204);
      gates.open(gate);
      expect((await held).status).toBe(200);
      for (let i = 0; i < replicas.length; i++) {
        expect((await on(i, cookie).get('/me')).status).toBe(401);
        expect((await on(i, cookie).get('/peek')).body).toEqual({ views: null });
      }
    }
  });

  it('logs a user out everywhere from either platform', async () => {
    const devices = [on(0, undefined), on(1, undefined), on(2, undefined)];
    for (const device of devices) await device.post('/login', { id: 'everywhere' });
    const res = await on(1, devices[1].cookie).post('/logout-all', { keepCurrent: false });
    expect(res.body).toEqual({ deleted: 3 });
    for (const device of devices) for (let i = 0; i < replicas.length; i++) expect((await on(i, device.cookie).get('/me')).status).toBe(401);
  });

  it('accepts the CSRF token on every platform and refuses a wrong one', async () => {
    const visitor = on(0, undefined);
    await visitor.post('/set/views', { value: 1 });
    const { csrfToken } = (await on(1, visitor.cookie).get('/csrf')).body;
    for (let i = 0; i < replicas.length; i++) {
      expect((await on(i, visitor.cookie).post('/protected', undefined, { 'x-csrf-token': 'wrong' })).status).toBe(403);
      const ok = await on(i, visitor.cookie).post('/protected', undefined, { 'x-csrf-token': csrfToken });
      expect(ok.status).toBe(200);
    }
    expect((await on(2, visitor.cookie).get('/peek')).body).toEqual({ views: 4 });
  });

  it('answers 503 on every platform while Redis is away, and recovers', async () => {
    const visitor = on(0, undefined);
    await visitor.post('/login', { id: 'outage' });
    await redis.interrupt();
    try {
      for (let i = 0; i < replicas.length; i++) {
        expect((await on(i, visitor.cookie).get('/me')).status).toBe(503);
        expect((await on(i, undefined).get('/public')).status).toBe(200); // a visitor without a session needs no Redis
      }
    } finally {
      await redis.resume();
    }
    for (let i = 0; i < replicas.length; i++) {
      await waitUntil(`replica ${i} serving the session again`, async () => (await on(i, visitor.cookie).get('/me')).status === 200);
    }
  });
});
