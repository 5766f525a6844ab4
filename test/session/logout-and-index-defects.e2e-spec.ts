import Redis from 'ioredis';
import { setTimeout as delay } from 'node:timers/promises';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { startSessionApp, type RunningApp } from './support/session-app';
import { Visitor } from './support/http-client';

// Issue 12, items 4 and the index half of 6. Neither can crash the process, so the app runs in jest's.

describe('logout behind an HTTPS proxy (issue 12, item 4)', () => {
  let redis: RedisServerHandle;
  let app: RunningApp;

  beforeAll(async () => {
    redis = await startRedis();
    app = await startSessionApp({ redis: redis.url, prefix: uniquePrefix('proxy'), trustProxy: true, cookie: { sameSite: 'none' } });
  });

  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it('clears the cookie with the same Secure attribute it was set with, or browsers ignore the clearing', async () => {
    const overHttps = { 'x-forwarded-proto': 'https' };
    const visitor = new Visitor(app.url);
    const login = await visitor.post('/login', { id: 'proxied-user' }, overHttps);
    expect(login.setCookie).toMatch(/^sid=.*;\s*Secure/i);
    expect(login.setCookie).toMatch(/SameSite=None/i);
    const logout = await visitor.post('/logout', undefined, overHttps);
    expect(logout.status).toBe(204);
    expect(logout.setCookie).toMatch(/^sid=;/);
    expect(logout.setCookie).toMatch(/SameSite=None/i);
    expect(logout.setCookie).toMatch(/;\s*Secure/i);
  });
});

describe('a user\'s index after idle expiry (issue 12, item 6)', () => {
  const IDLE_MS = 1_000;
  let redis: RedisServerHandle;
  let app: RunningApp;
  let admin: Redis;
  const prefix = uniquePrefix('idle-index');

  beforeAll(async () => {
    redis = await startRedis();
    app = await startSessionApp({ redis: redis.url, prefix, idleTimeout: IDLE_MS });
    admin = new Redis(redis.url);
  });

  afterAll(async () => {
    admin?.disconnect();
    await app?.close();
    await redis?.stop();
  });

  it('does not keep members of sessions that expired for idleness', async () => {
    const visitor = new Visitor(app.url);
    expect((await visitor.post('/login', { id: 'idle-user' })).status).toBe(200);
    const indexKey = `${prefix}user:idle-user`;
    expect(await admin.zcard(indexKey)).toBe(1);

    // Nothing happens for a while: the session idles out. Its index entry must not outlive it by
    // more than the idle timeout (the absolute timeout, 12 h by default, is far too long).
    await delay(IDLE_MS + 1_500);
    expect((await visitor.get('/me')).status).toBe(401);
    const sessionKeys = (await admin.keys(`${prefix}*`)).filter((key) => key !== indexKey);
    expect(sessionKeys).toEqual([]);
    expect({ members: await admin.zrange(indexKey, 0, -1), ttlMs: await admin.pttl(indexKey) }).toEqual({ members: [], ttlMs: -2 });
  });
});
