import Redis from 'ioredis';
import { setTimeout as delay } from 'node:timers/promises';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { startSessionApp, type RunningApp } from './support/session-app';
import { Visitor } from './support/http-client';

// Issue 12, the index half of item 6 (item 4, logout behind an HTTPS proxy, is test/session/secure-cookie.e2e-spec.ts).
// It cannot crash the process, so the app runs in jest's.

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
