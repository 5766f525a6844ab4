import Redis from 'ioredis';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { expectLibraryAnswer } from './support/expectations';
import { startSessionApp, type RunningApp } from './support/session-app';
import { Visitor } from './support/http-client';

/**
 * A master under `min-replicas-to-write` without its replicas refuses writes (NOREPLICAS), and one at
 * `maxmemory` under `noeviction` (the policy the health check asks for) refuses them (OOM) until
 * sessions expire: both are Redis unavailable for now, so a 503 with the library's message, not a 500
 * with Redis's text.
 */
describe('Redis refusing writes', () => {
  let redis: RedisServerHandle;
  let admin: Redis;
  let app: RunningApp;

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    app = await startSessionApp({ redis: redis.url, prefix: uniquePrefix('noreplicas') });
  });

  afterAll(async () => {
    await admin?.config('SET', 'min-replicas-to-write', '0').catch(() => undefined);
    await admin?.config('SET', 'maxmemory', '0').catch(() => undefined);
    admin?.disconnect();
    await app?.close();
    await redis?.stop();
  });

  it("answers 503 with the library's message without replicas (NOREPLICAS), and works again once Redis takes writes", async () => {
    const visitor = new Visitor(app.url);
    expect((await visitor.post('/inc')).status).toBe(200);
    await admin.config('SET', 'min-replicas-to-write', '1');
    const refused = await visitor.post('/inc');
    expect(refused.status).toBe(503);
    expectLibraryAnswer(refused, 'NOREPLICAS');
    await admin.config('SET', 'min-replicas-to-write', '0');
    expect((await visitor.post('/inc')).status).toBe(200);
  });

  it("answers 503 with the library's message at maxmemory (OOM), and works again once Redis has room", async () => {
    const visitor = new Visitor(app.url);
    expect((await visitor.post('/inc')).status).toBe(200);
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    await admin.config('SET', 'maxmemory', '1');
    try {
      const refused = await visitor.post('/inc');
      expect(refused.status).toBe(503);
      expectLibraryAnswer(refused, 'OOM');
    } finally {
      await admin.config('SET', 'maxmemory', '0');
    }
    expect((await visitor.post('/inc')).body).toEqual({ views: 2 });
  });
});
