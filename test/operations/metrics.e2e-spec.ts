import { Module } from '@nestjs/common';
import Redis from 'ioredis';
import { Registry } from 'prom-client';
import { SessionModule } from '@app/session';
import { createNestApp } from '../support/http-platform';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { TEST_SECRET, startSessionApp, type RunningApp } from '../session/support/session-app';
import { Visitor } from '../session/support/http-client';
import { metricValue, storeCalls } from './support/metric-value';
import { gates } from '../session/support/gates';

/** Every metric of the `metrics` option, driven through a real app and Redis, asserted by value. */
describe('metrics', () => {
  let redis: RedisServerHandle;
  let admin: Redis;

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
  });
  afterAll(async () => {
    admin?.disconnect();
    await redis?.stop();
  });

  async function appWith(options: Record<string, unknown> = {}): Promise<{ app: RunningApp; registry: Registry }> {
    const registry = new Registry();
    const app = await startSessionApp({ redis: redis.url, prefix: uniquePrefix('metrics'), metrics: { registry }, ...options });
    return { app, registry };
  }

  async function loggedIn(url: string, id: string): Promise<Visitor> {
    const visitor = new Visitor(url);
    const res = await visitor.post('/login', { id });
    expect(res.status).toBe(200);
    return visitor;
  }

  describe('one app', () => {
    let app: RunningApp;
    let registry: Registry;
    beforeAll(async () => ({ app, registry } = await appWith()));
    afterAll(() => app?.close());

    it('times each store call by operation and result', async () => {
      const visitor = new Visitor(app.url);
      await visitor.post('/set/views', { value: 1 });
      const before = { loadOk: await storeCalls(registry, 'load', 'ok'), saveOk: await storeCalls(registry, 'save', 'ok') };
      await visitor.post('/inc');
      expect(await storeCalls(registry, 'load', 'ok')).toBe(before.loadOk + 1);
      expect(await storeCalls(registry, 'save', 'ok')).toBe(before.saveOk + 1);
      // A cookie whose session is gone: the read answers nothing.
      const stale = new Visitor(app.url);
      stale.cookie = visitor.cookie;
      await visitor.post('/logout');
      const goneBefore = await storeCalls(registry, 'load', 'gone');
      await stale.get('/peek');
      expect(await storeCalls(registry, 'load', 'gone')).toBe(goneBefore + 1);
      expect(await metricValue(registry, 'session_store_duration_seconds', { operation: 'load', result: 'ok' }, 'sum')).toBeGreaterThan(0);
    });

    it('counts a Redis error as result "error"', async () => {
      const visitor = new Visitor(app.url);
      await visitor.post('/set/views', { value: 1 });
      const keys = await admin.keys(`${app.prefix}*`);
      const sessionKeys = [];
      for (const key of keys) if ((await admin.type(key)) === 'hash') sessionKeys.push(key);
      // The visitor's key holds a string now: the read script fails with WRONGTYPE.
      const before = await storeCalls(registry, 'load', 'error');
      for (const key of sessionKeys) await admin.set(key, 'not a hash', 'PX', 60_000);
      await visitor.get('/peek');
      expect(await storeCalls(registry, 'load', 'error')).toBe(before + 1);
    });

    it('counts sessions created, logins, and sessions ended by logout and by the login that replaced them', async () => {
      const created = await metricValue(registry, 'sessions_created_total');
      const logins = await metricValue(registry, 'session_logins_total');
      const regenerated = await metricValue(registry, 'sessions_ended_total', { reason: 'regenerated' });
      const logout = await metricValue(registry, 'sessions_ended_total', { reason: 'logout' });
      const visitor = new Visitor(app.url);
      await visitor.post('/set/cart', { value: ['apple'] }); // a new session
      await visitor.post('/login', { id: 'ada' }); // a second one under a new ID; the first ends
      await visitor.post('/logout');
      expect(await metricValue(registry, 'sessions_created_total')).toBe(created + 2);
      expect(await metricValue(registry, 'session_logins_total')).toBe(logins + 1);
      expect(await metricValue(registry, 'sessions_ended_total', { reason: 'regenerated' })).toBe(regenerated + 1);
      expect(await metricValue(registry, 'sessions_ended_total', { reason: 'logout' })).toBe(logout + 1);
    });

    it('counts revoked sessions, one by one and everywhere', async () => {
      const revoked = await metricValue(registry, 'sessions_ended_total', { reason: 'revoked' });
      const laptop = await loggedIn(app.url, 'grace');
      await loggedIn(app.url, 'grace');
      await loggedIn(app.url, 'grace');
      const list = (await laptop.get('/sessions')).body as { id: string; current: boolean }[];
      const other = list.find((s) => !s.current)!;
      expect((await laptop.delete(`/sessions/${other.id}`)).body).toEqual({ revoked: true });
      expect(await metricValue(registry, 'sessions_ended_total', { reason: 'revoked' })).toBe(revoked + 1);
      expect((await laptop.post('/logout-all', {})).body).toEqual({ deleted: 2 });
      expect(await metricValue(registry, 'sessions_ended_total', { reason: 'revoked' })).toBe(revoked + 3);
    });

    it('estimates active sessions and logged-in users from what requests touched', async () => {
      // Three anonymous sessions and one user with two devices: the logins' earlier IDs count too (used, not alive).
      for (let i = 0; i < 3; i++) await new Visitor(app.url).post('/set/views', { value: i });
      await loggedIn(app.url, 'user-1');
      await loggedIn(app.url, 'user-1');
      const fresh = await appWith();
      try {
        const { app: other, registry: otherRegistry } = fresh;
        await new Visitor(other.url).post('/set/views', { value: 1 });
        await loggedIn(other.url, 'u-a');
        await loggedIn(other.url, 'u-b');
        const text = await otherRegistry.metrics();
        expect(text).toMatch(/^sessions_active 3$/m);
        expect(text).toMatch(/^session_users_active 2$/m);
      } finally {
        await fresh.app.close();
      }
    });
  });

  it('refuses a second app on the same registry at boot, naming metrics.registry, and leaves no connection of its own open', async () => {
    const connections = async () =>
      String(await admin.client('LIST'))
        .trim()
        .split('\n').length;
    const { app, registry } = await appWith();
    try {
      const before = await connections();
      @Module({ imports: [SessionModule.forRoot({ secret: TEST_SECRET, redis: redis.url, prefix: uniquePrefix('metrics'), metrics: { registry } })] })
      class SecondAppModule {}
      await expect(createNestApp(SecondAppModule, { logger: false, abortOnError: false })).rejects.toThrow(/"metrics\.registry"/);
      // The refused module's client is closed, so a process whose boot failed can exit.
      const deadline = Date.now() + 3_000;
      while ((await connections()) !== before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await connections()).toBe(before);
    } finally {
      await app.close();
    }
  });

  it('adds up the sessions seen by every replica', async () => {
    const prefix = uniquePrefix('replicas');
    const replicas = [new Registry(), new Registry()];
    const apps = await Promise.all(replicas.map((registry) => startSessionApp({ redis: redis.url, prefix, metrics: { registry } })));
    try {
      for (let i = 0; i < 4; i++) await new Visitor(apps[i % 2].url).post('/set/views', { value: i });
      await replicas[1].metrics(); // replica 1 flushes what it saw (it would within 5 s on its own)
      expect(await replicas[0].metrics()).toMatch(/^sessions_active 4$/m);
      // Every key the estimate writes expires.
      for (const key of await admin.keys(`${prefix}{activity}*`)) expect(await admin.pttl(key)).toBeGreaterThan(0);
    } finally {
      await Promise.all(apps.map((app) => app.close()));
    }
  });

  it('counts evicted sessions at the per-user limit', async () => {
    const { app, registry } = await appWith({ users: { maxSessions: 1 } });
    try {
      await loggedIn(app.url, 'lin');
      await loggedIn(app.url, 'lin');
      await loggedIn(app.url, 'lin');
      expect(await metricValue(registry, 'sessions_ended_total', { reason: 'evicted' })).toBe(2);
      expect(await metricValue(registry, 'session_logins_total')).toBe(3);
    } finally {
      await app.close();
    }
  });

  it.each([
    { retries: 0, status: 409, gaveUp: 1, retried: 0 },
    { retries: 3, status: 200, gaveUp: 0, retried: 1 },
  ])('counts update retries and updates that gave up (updateRetries $retries)', async ({ retries, status, gaveUp, retried }) => {
    const { app, registry } = await appWith({ updateRetries: retries });
    try {
      const visitor = new Visitor(app.url);
      await visitor.post('/items', { item: 'a' });
      const [key] = await sessionKeysOf(app.prefix);
      // Another writer changes the key after this request read it and before it updates it.
      const gate = gates.unique('conflict');
      const updating = visitor.post('/items', { item: 'b', gate });
      await gates.arrived(gate);
      await admin.hset(key, 'items', JSON.stringify(['x']));
      gates.open(gate);
      expect((await updating).status).toBe(status);
      expect(await metricValue(registry, 'session_update_conflicts_total')).toBe(gaveUp);
      expect(await metricValue(registry, 'session_update_retries_total')).toBe(retried);
      expect(await storeCalls(registry, 'update', 'conflict')).toBe(1);
    } finally {
      await app.close();
    }
  });

  it('counts requests answered 503 because Redis did not answer, and the timeouts behind them', async () => {
    const { app, registry } = await appWith({ redisDeadline: 100 });
    try {
      const visitor = new Visitor(app.url);
      await visitor.post('/set/views', { value: 1 });
      await admin.client('PAUSE', 600, 'ALL');
      const res = await visitor.get('/peek');
      expect(res.status).toBe(503);
      expect(await metricValue(registry, 'session_requests_unavailable_total')).toBe(1);
      expect(await storeCalls(registry, 'load', 'timeout')).toBe(1);
      // A visitor without a cookie needs no session: not a 503, not counted.
      expect((await new Visitor(app.url).get('/public')).status).toBe(200);
      expect(await metricValue(registry, 'session_requests_unavailable_total')).toBe(1);
    } finally {
      await admin.client('UNPAUSE');
      await app.close();
    }
  });

  it.each([
    ['a SessionService.update', '/items', { item: 'kettle' }],
    ['the save at the end of the request', '/set/views', { value: 2 }],
  ])('counts a request answered 503 once when %s meets Redis not answering after the session was read', async (_what, route, body) => {
    const { app, registry } = await appWith({ redisDeadline: 300 });
    try {
      const visitor = new Visitor(app.url);
      await visitor.post('/set/views', { value: 1 });
      const gate = gates.unique('unavailable');
      const pending = visitor.post(route, { ...body, gate });
      await gates.arrived(gate); // read already: only the write meets the pause
      await admin.client('PAUSE', 1_000, 'WRITE');
      gates.open(gate);
      expect((await pending).status).toBe(503);
      expect(await metricValue(registry, 'session_requests_unavailable_total')).toBe(1);
    } finally {
      await admin.client('UNPAUSE');
      await app.close();
    }
  });

  it('counts each visitor without a session whose login met Redis not answering, not only the first', async () => {
    // The limit check reads Redis before the login makes a session: the requests have none of their own yet.
    const { app, registry } = await appWith({ redisDeadline: 200, users: { maxSessions: 5, onLimit: 'reject' } });
    try {
      await admin.client('PAUSE', 2_000, 'ALL');
      for (let i = 0; i < 3; i++) expect((await new Visitor(app.url).post('/login', { id: `u-${i}` })).status).toBe(503);
      expect(await metricValue(registry, 'session_requests_unavailable_total')).toBe(3);
    } finally {
      await admin.client('UNPAUSE');
      await app.close();
    }
  });

  async function sessionKeysOf(prefix: string): Promise<string[]> {
    const keys = [];
    for (const key of await admin.keys(`${prefix}*`)) if ((await admin.type(key)) === 'hash') keys.push(key);
    return keys;
  }
});
