import Redis from 'ioredis';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { CommandRecorder } from '../support/command-recorder';
import { uniquePrefix } from '../support/prefix';
import { startReplicas, startSessionApp, type RunningApp } from './support/session-app';
import { Visitor } from './support/http-client';
import { keysWithoutTtl } from './support/expectations';
import { sessionRedisKey, userIndexRedisKey } from '../support/key-scheme';

/** A user's sessions are first-class: listed, revoked one by one or all at once, on every replica. */
describe("a user's sessions", () => {
  let redis: RedisServerHandle;
  let admin: Redis;
  const running: RunningApp[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
  });

  afterAll(async () => {
    await Promise.all(running.map((app) => app.close()));
    admin?.disconnect();
    await redis?.stop();
  });

  async function replicas(count: number, options: Record<string, unknown> = {}) {
    const apps = await startReplicas(count, { redis: redis.url, prefix: uniquePrefix('users'), ...options });
    running.push(...apps);
    return apps;
  }

  async function loginOn(app: RunningApp, id: string, userAgent = 'test-agent'): Promise<Visitor> {
    const visitor = new Visitor(app.url);
    const res = await visitor.post('/login', { id }, { 'user-agent': userAgent });
    expect(res.status).toBe(200);
    return visitor;
  }

  it('lists the live sessions newest first, marks the current one, and never shows a cookie value', async () => {
    const [a, b, c] = await replicas(3);
    const phone = await loginOn(a, 'u-list', 'Phone');
    await new Promise((resolve) => setTimeout(resolve, 5));
    const laptop = await loginOn(b, 'u-list', 'Laptop');
    await loginOn(a, 'someone-else');

    const res = await new Visitor(c.url).request('GET', '/sessions', { headers: { cookie: laptop.cookie! } });
    expect(res.status).toBe(200);
    expect(res.body.map((s: { userAgent: string }) => s.userAgent)).toEqual(['Laptop', 'Phone']);
    expect(res.body.map((s: { current: boolean }) => s.current)).toEqual([true, false]);
    for (const session of res.body) {
      expect(Object.keys(session).sort()).toEqual(['createdAt', 'current', 'id', 'ip', 'lastSeenAt', 'userAgent']);
      for (const cookie of [phone.cookie!, laptop.cookie!]) {
        const sid = decodeURIComponent(cookie.split('=')[1]).slice(2).split('.')[0];
        expect(JSON.stringify(session)).not.toContain(sid);
      }
    }
  });

  it('revokes one session: its very next request, on any replica, is anonymous', async () => {
    const [a, b, c] = await replicas(3);
    const phone = await loginOn(a, 'u-revoke', 'Phone');
    const laptop = await loginOn(b, 'u-revoke', 'Laptop');
    const list = (await laptop.get('/sessions')).body as { id: string; userAgent: string }[];
    const phoneHandle = list.find((s) => s.userAgent === 'Phone')!.id;

    expect((await laptop.delete(`/sessions/${phoneHandle}`)).body).toEqual({ revoked: true });
    expect((await laptop.delete(`/sessions/${phoneHandle}`)).body).toEqual({ revoked: false });
    expect((await laptop.delete('/sessions/not-a-handle')).body).toEqual({ revoked: false });
    for (const app of [a, b, c]) {
      expect((await new Visitor(app.url).request('GET', '/me', { headers: { cookie: phone.cookie! } })).status).toBe(401);
      expect((await new Visitor(app.url).request('GET', '/me', { headers: { cookie: laptop.cookie! } })).status).toBe(200);
    }
  });

  it("cannot revoke another user's session with its handle", async () => {
    const [a] = await replicas(1);
    const victim = await loginOn(a, 'u-victim');
    const attacker = await loginOn(a, 'u-attacker');
    const handle = (await victim.get('/sessions')).body[0].id;
    expect((await attacker.delete(`/sessions/${handle}`)).body).toEqual({ revoked: false });
    expect((await victim.get('/me')).status).toBe(200);
  });

  it('logs out everywhere, on every replica, optionally keeping the current session', async () => {
    const [a, b, c] = await replicas(3);
    const devices = [await loginOn(a, 'u-all'), await loginOn(b, 'u-all'), await loginOn(c, 'u-all')];
    const bystander = await loginOn(a, 'u-bystander');

    expect((await devices[0].post('/logout-all', { keepCurrent: true })).body).toEqual({ deleted: 2 });
    expect((await devices[0].get('/me')).status).toBe(200);
    for (const app of [a, b, c]) {
      for (const device of devices.slice(1)) {
        expect((await new Visitor(app.url).request('GET', '/me', { headers: { cookie: device.cookie! } })).status).toBe(401);
      }
    }
    expect((await devices[0].post('/logout-all', {})).body).toEqual({ deleted: 1 });
    expect((await devices[0].get('/me')).status).toBe(401);
    expect((await bystander.get('/me')).status).toBe(200);
  });

  it('lists and logs out everywhere with a handful of commands and no SCAN, whatever else is stored', async () => {
    const prefix = uniquePrefix('cost-users');
    const [app] = await startReplicas(1, { redis: redis.url, prefix });
    running.push(app);
    // 20,000 unrelated sessions, written straight into Redis.
    const pipeline = admin.pipeline();
    for (let i = 0; i < 20_000; i++) pipeline.hset(`${prefix}other${i}`, ':c', Date.now(), 'user', '{"id":"x"}');
    await pipeline.exec();
    const devices = [];
    for (let i = 0; i < 5; i++) devices.push(await loginOn(app, 'u-cost'));

    const recorder = await CommandRecorder.start(redis.url, { keyPrefix: prefix });
    try {
      await recorder.settle();
      recorder.reset();
      await devices[0].get('/sessions');
      const listing = await recorder.settle();
      recorder.reset();
      await devices[0].post('/logout-all', {});
      const logoutAll = await recorder.settle();
      for (const commands of [listing, logoutAll]) {
        expect(commands.length).toBeLessThanOrEqual(8);
        expect(commands.map((c) => c.name)).not.toContain('SCAN');
        expect(commands.map((c) => c.name)).not.toContain('KEYS');
      }
    } finally {
      await recorder.stop();
    }
  });

  /** The Redis key of a visitor's session, from its cookie. */
  function sessionKeyOf(prefix: string, visitor: Visitor): string {
    return sessionRedisKey(prefix, decodeURIComponent(visitor.cookie!.split('=')[1]).slice(2).split('.')[0]);
  }

  /** Waits until these sessions have idled out in Redis, keeping `active` alive meanwhile. */
  async function idleOut(prefix: string, idle: Visitor[], active: Visitor[] = []): Promise<void> {
    while ((await Promise.all(idle.map((visitor) => admin.exists(sessionKeyOf(prefix, visitor))))).some((n) => n > 0)) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      for (const visitor of active) expect((await visitor.get('/me')).status).toBe(200); // slides its idle timeout
    }
  }

  it('prunes sessions that expired from the index without keyspace notifications', async () => {
    const prefix = uniquePrefix('prune');
    // Polled rather than slept, with room to spare: a login also prunes, and must find the old session alive.
    const [app] = await startReplicas(1, { redis: redis.url, prefix, idleTimeout: 1_500 });
    running.push(app);
    const stale = await loginOn(app, 'u-prune', 'Old');
    const fresh = await loginOn(app, 'u-prune', 'New');
    await idleOut(prefix, [stale], [fresh]); // the old one has now idled out
    const index = `${prefix}user:u-prune`;
    expect(await admin.zcard(index)).toBe(2);
    const res = await fresh.get('/sessions');
    expect(res.body.map((s: { userAgent: string }) => s.userAgent)).toEqual(['New']);
    expect(await admin.zcard(index)).toBe(1);
    expect((await stale.get('/me')).status).toBe(401);
  });

  it('keeps a regenerated session in its index: list, revoke and log out everywhere see the new ID (issue 12)', async () => {
    const prefix = uniquePrefix('regenerate');
    const [a, b] = await replicas(2, { prefix });
    const phone = await loginOn(a, 'u-regen', 'Phone');
    const laptop = await loginOn(b, 'u-regen', 'Laptop');
    const before = phone.cookie;
    expect((await phone.post('/regenerate', undefined, { 'user-agent': 'Phone' })).status).toBe(204);
    expect(phone.cookie).not.toBe(before);
    const index = `${prefix}user:u-regen`;
    expect(await admin.zcard(index)).toBe(2); // the old ID left, the new one joined

    const listed = (await laptop.get('/sessions')).body as { id: string; userAgent: string; current: boolean }[];
    expect(listed.map((row) => row.userAgent).sort()).toEqual(['Laptop', 'Phone']);
    const phoneRow = listed.find((row) => row.userAgent === 'Phone')!;
    expect((await phone.get('/sessions')).body.find((row: { current: boolean }) => row.current).id).toBe(phoneRow.id);

    expect((await laptop.delete(`/sessions/${phoneRow.id}`)).body).toEqual({ revoked: true });
    expect((await phone.get('/me')).status).toBe(401);

    const tablet = await loginOn(a, 'u-regen', 'Tablet');
    await tablet.post('/regenerate');
    expect((await laptop.post('/logout-all', {})).body).toEqual({ deleted: 2 });
    expect((await new Visitor(b.url).request('GET', '/me', { headers: { cookie: tablet.cookie! } })).status).toBe(401);
    expect(await admin.zcard(index)).toBe(0);
  });

  it('drops members of idle-expired sessions when the user logs in again, before any list (issue 12)', async () => {
    const prefix = uniquePrefix('prune-on-login');
    const [app] = await replicas(1, { prefix, idleTimeout: 1_500 });
    const old = [await loginOn(app, 'u-idle', 'Old'), await loginOn(app, 'u-idle', 'Older')];
    const index = `${prefix}user:u-idle`;
    expect(await admin.zcard(index)).toBe(2);
    await idleOut(prefix, old);
    expect(await admin.zcard(index)).toBe(2); // nothing pruned them yet
    await loginOn(app, 'u-idle', 'New');
    expect(await admin.zcard(index)).toBe(1);
  });

  it.each(['evict-oldest', 'reject'] as const)('never ends above users.maxSessions under simultaneous logins (%s)', async (onLimit) => {
    const prefix = uniquePrefix(`limit-${onLimit}`);
    const [a, b] = await startReplicas(2, { redis: redis.url, prefix, users: { maxSessions: 2, onLimit } });
    running.push(a, b);
    const first = await loginOn(a, 'u-limit');
    await new Promise((resolve) => setTimeout(resolve, 5));
    const logins = await Promise.all(Array.from({ length: 8 }, (_, i) => new Visitor([a, b][i % 2].url).post('/login', { id: 'u-limit' })));
    const live = (await first.get('/me')).status === 200 ? 1 : 0;
    const statuses = logins.map((r) => r.status);
    const keys = (await admin.keys(`${prefix}*`)).filter((key) => !key.includes(':user:'));
    const sessionsWithUser = (await Promise.all(keys.map((key) => admin.hget(key, 'user')))).filter(Boolean);
    expect(sessionsWithUser.length).toBeLessThanOrEqual(2);
    expect(await admin.zcard(`${prefix}user:u-limit`)).toBeLessThanOrEqual(2);
    if (onLimit === 'reject') {
      expect(live).toBe(1);
      expect(statuses.filter((s) => s === 200)).toHaveLength(1);
      const rejected = logins.find((r) => r.status === 409)!;
      expect(rejected.body.message).toMatch(/users\.maxSessions/);
    } else {
      // Every login evicts the oldest; one evicted before it finished saving answers 409.
      expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(2);
      expect(statuses.every((s) => s === 200 || s === 409)).toBe(true);
      expect(live).toBe(0); // the oldest went first
    }
  });

  it('kills a session at the absolute timeout however active it is', async () => {
    // Times on a scale a loaded machine keeps: reads every 100 ms (well within the idle timeout) until
    // half an idle timeout before the absolute deadline, measured from the creation time Redis holds,
    // so the last reads would slide the expiry past that deadline.
    const IDLE_MS = 1_000;
    const ABSOLUTE_MS = 3_000;
    const [app] = await replicas(1, { idleTimeout: IDLE_MS, absoluteTimeout: ABSOLUTE_MS });
    const user = await loginOn(app, 'u-absolute');
    const sid = decodeURIComponent(user.cookie!.split('=')[1]).slice(2).split('.')[0];
    const key = sessionRedisKey(app.prefix, sid);
    const createdAt = Number(await admin.hget(key, ':c'));
    while (Date.now() < createdAt + ABSOLUTE_MS - IDLE_MS / 2) {
      expect((await user.get('/me')).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // However often it is read, the key's TTL never reaches past the absolute deadline. It stops
    // within touchAfter (a tenth of the idle timeout) of it: a slide gaining less is not worth a write.
    const expiry = Number(await admin.call('PEXPIRETIME', key));
    expect(expiry).toBeLessThanOrEqual(createdAt + ABSOLUTE_MS);
    expect(expiry).toBeGreaterThan(createdAt + ABSOLUTE_MS - IDLE_MS / 10);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, createdAt + ABSOLUTE_MS + 100 - Date.now())));
    expect((await user.get('/me')).status).toBe(401);
  });

  it('stamps last-seen with the slide of the idle timeout, so at most touchAfter old, and writes nothing on a read in between', async () => {
    const prefix = uniquePrefix('seen');
    const app = await startSessionApp({ redis: redis.url, prefix, touchAfter: 200 });
    running.push(app);
    const user = await loginOn(app, 'u-seen');
    await new Promise((resolve) => setTimeout(resolve, 250));
    await user.get('/me'); // a first slide, so the app's connection has the slide's script (ioredis sends EVAL the first time)
    const recorder = await CommandRecorder.start(redis.url, { keyPrefix: prefix });
    try {
      const before = (await user.get('/sessions')).body[0].lastSeenAt;
      await recorder.settle();
      recorder.reset();
      await user.get('/me'); // within touchAfter of the last slide: no slide, no last-seen
      expect((await recorder.settle()).map((c) => c.name)).toEqual(['HGETALL']);
      await new Promise((resolve) => setTimeout(resolve, 250));
      recorder.reset();
      await user.get('/me');
      expect((await recorder.settle()).map((c) => c.name)).toEqual(['HGETALL', 'EVALSHA']);
      const after = (await user.get('/sessions')).body[0].lastSeenAt;
      expect(Date.parse(after)).toBeGreaterThan(Date.parse(before));
    } finally {
      await recorder.stop();
    }
  });

  it('without an absolute timeout, gives every key a TTL, the user index outliving its sessions through logins, slides and saves', async () => {
    const [a, b] = await replicas(2, { absoluteTimeout: false, touchAfter: 0 });
    const phone = await loginOn(a, 'u-forever', 'Phone');
    const laptop = await loginOn(b, 'u-forever', 'Laptop');
    expect((await phone.get('/me')).status).toBe(200); // slides: with touchAfter 0, every read does
    expect((await laptop.post('/inc')).status).toBe(200); // saves
    expect(await keysWithoutTtl(admin, a.prefix)).toEqual([]);
    const index = userIndexRedisKey(a.prefix, 'u-forever');
    const keyOf = (visitor: Visitor) => sessionRedisKey(a.prefix, decodeURIComponent(visitor.cookie!.split('=')[1]).slice(2).split('.')[0]);
    const expiryOf = async (key: string) => Number(await admin.call('PEXPIRETIME', key));
    for (const visitor of [phone, laptop]) expect(await expiryOf(index)).toBeGreaterThan(await expiryOf(keyOf(visitor)));

    // A member whose expiry moves into a later day pushes the index's expiry along: here the index is
    // cut short, and the phone's expiry field set back a day, as if its last slide were that old.
    await admin.pexpire(index, 5_000);
    const phoneKey = keyOf(phone);
    await admin.hset(phoneKey, ':e', Number(await admin.hget(phoneKey, ':e')) - 24 * 60 * 60_000);
    expect((await phone.get('/me')).status).toBe(200);
    expect(await expiryOf(index)).toBeGreaterThan(Date.now() + 24 * 60 * 60_000);

    // So "log out everywhere" still finds every session.
    expect((await laptop.post('/logout-all')).status).toBe(200);
    expect((await phone.get('/me')).status).toBe(401);
  });
});
