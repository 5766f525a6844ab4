import Redis from 'ioredis';
import { uniquePrefix } from '../support/prefix';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { startReplicas, type RunningApp } from '../session/support/session-app';
import { Visitor } from '../session/support/http-client';
import { waitUntil } from '../support/probe';
import { nearCacheOf, redisKeyOfCookie, through, untilServing, warmOn } from './support/near-cache-apps';

/**
 * Issue 10, §2: where Redis refuses `CLIENT TRACKING` (here by ACL, as some managed services do), the
 * near cache falls back to PUBLISH from the library's own writes, which classic pub/sub delivers to
 * every replica: the library's changes stay coherent, and a deletion still waits for its message.
 */
describe('near cache without CLIENT TRACKING: the PUBLISH fallback', () => {
  let redis: RedisServerHandle;
  let admin: Redis;
  let apps: RunningApp[];

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    await admin.call('ACL', 'SETUSER', 'default', '-client|tracking');
    apps = await startReplicas(3, { redis: redis.url, prefix: uniquePrefix('near-fallback'), nearCache: { maxEntryAge: 3_600_000 } });
    await untilServing(apps);
  });

  afterAll(async () => {
    await Promise.all((apps ?? []).map((app) => app.close()));
    await admin?.call('ACL', 'SETUSER', 'default', '+@all').catch(() => undefined);
    admin?.disconnect();
    await redis?.stop();
  });

  it('serves from memory and stays coherent for saves, updates and logouts made through any replica', async () => {
    const [a, b, c] = apps;
    for (const app of apps) expect(nearCacheOf(app).publishing).toBe(true);
    const user = new Visitor(a.url);
    await user.post('/login', { id: 'fallback' });
    await user.post('/set/color', { value: 'red' });
    const cookie = user.cookie;

    // The write answers once its own replica heard its message back, so the others have it too; taking
    // it is their own work, done in the window the README measures (under a millisecond), waited for here.
    const heardOnOthers = () =>
      waitUntil(
        'the other replicas to drop their copy',
        () => Promise.resolve([b, c].every((app) => !nearCacheOf(app).holds(redisKeyOfCookie(app.prefix, cookie)))),
        {
          timeoutMs: 1_000,
        },
      );

    await warmOn([b, c], cookie);
    await user.post('/set/color', { value: 'blue' });
    await heardOnOthers();
    for (const app of [b, c]) expect((await through(app, cookie).get('/whole')).body.color).toBe('blue');

    await warmOn([b, c], cookie);
    await user.post('/items', { item: 'book' });
    await heardOnOthers();
    for (const app of [b, c]) expect((await through(app, cookie).get('/whole')).body.items).toEqual(['book']);

    await warmOn([b, c], cookie);
    expect((await user.post('/logout')).status).toBe(204);
    await heardOnOthers();
    for (const app of [b, c]) expect((await through(app, cookie).get('/whole')).body.user).toBeUndefined();
  });
});
