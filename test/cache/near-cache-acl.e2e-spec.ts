import Redis from 'ioredis';
import { minimalAclRules } from '@app/session/redis/redis-permissions';
import { uniquePrefix } from '../support/prefix';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { startReplicas, type RunningApp } from '../session/support/session-app';
import { Visitor } from '../session/support/http-client';
import { nearCacheOf, through, untilServing, warmOn } from './support/near-cache-apps';

const PASSWORD = 'near-cache-user-password';

/**
 * Issue 10, §2, under the least-privilege Redis user the README documents: the boot check passes with
 * `nearCache` on, tracking arms (no fallback), the cache stays coherent, and every key it writes (the
 * heartbeats) has an expiry.
 */
describe('near cache as the least-privilege Redis user', () => {
  let redis: RedisServerHandle;
  let admin: Redis;
  let apps: RunningApp[];
  const prefix = uniquePrefix('near-acl');

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    await admin.call('ACL', 'SETUSER', 'near-cache', 'reset', 'on', `>${PASSWORD}`, ...minimalAclRules(prefix).split(' '));
    const connection = { host: redis.host, port: redis.port, username: 'near-cache', password: PASSWORD };
    apps = await startReplicas(2, { redis: connection, prefix, nearCache: { maxEntryAge: 3_600_000 } });
    await untilServing(apps);
  });

  afterAll(async () => {
    await Promise.all((apps ?? []).map((app) => app.close()));
    await admin?.call('ACL', 'DELUSER', 'near-cache').catch(() => undefined);
    admin?.disconnect();
    await redis?.stop();
  });

  it('tracks, stays coherent, and leaves no key without an expiry', async () => {
    const [a, b] = apps;
    for (const app of apps) expect(nearCacheOf(app).publishing).toBe(false);
    const user = new Visitor(a.url);
    await user.post('/login', { id: 'acl' });
    await user.post('/set/color', { value: 'red' });
    await warmOn([b], user.cookie);
    await user.post('/set/color', { value: 'blue' });
    expect((await through(b, user.cookie).get('/whole')).body.color).toBe('blue');
    await warmOn([b], user.cookie);
    expect((await user.post('/logout')).status).toBe(204);
    expect((await through(b, user.cookie).get('/whole')).body.user).toBeUndefined();

    const keys = await admin.keys(`${prefix}*`);
    expect(keys.some((key) => key.includes('near-cache:heartbeat'))).toBe(true);
    for (const key of keys) expect({ key, ttl: (await admin.pttl(key)) > 0 }).toEqual({ key, ttl: true });
  });
});
