import Redis from 'ioredis';
import { setTimeout as delay } from 'node:timers/promises';
import { freePorts, LOCALHOST } from '../support/ports';
import { uniquePrefix } from '../support/prefix';
import { launchRedisServer, type RedisProcess } from '../support/processes';
import { makeTempDir, removeTempDir } from '../support/temp-dirs';
import { startReplicas, type RunningApp } from '../session/support/session-app';
import { Visitor } from '../session/support/http-client';
import { through, untilServing, warmOn } from './support/near-cache-apps';

/**
 * Issue 10, §2: a cached session past its expiry is never served, even before Redis has deleted the
 * key and sent its invalidation. Redis deletes expired keys in a background cycle (10 times a second)
 * or when they are next touched; with the cycle switched off, the key stays until read, so nothing but
 * the cache's own check of the expiry stands between a replica and a session that has timed out.
 */
describe('near cache: an expired session, before Redis has deleted it', () => {
  let dir: string;
  let server: RedisProcess;
  let admin: Redis;
  let apps: RunningApp[];

  beforeAll(async () => {
    dir = await makeTempDir('near-expiry');
    const [port] = await freePorts(1);
    server = await launchRedisServer({ port, dir, args: ['--enable-debug-command', 'yes'] });
    admin = new Redis({ host: LOCALHOST, port });
    await admin.call('DEBUG', 'SET-ACTIVE-EXPIRE', '0');
    apps = await startReplicas(2, {
      redis: `redis://${LOCALHOST}:${port}`,
      prefix: uniquePrefix('near-expiry'),
      idleTimeout: 1_000,
      nearCache: { maxEntryAge: 3_600_000 },
    });
    await untilServing(apps);
  });

  afterAll(async () => {
    await Promise.all((apps ?? []).map((app) => app.close()));
    admin?.disconnect();
    await server?.stop();
    if (dir) await removeTempDir(dir);
  });

  it('answers without the session once its idle timeout has passed', async () => {
    const [a, b] = apps;
    const user = new Visitor(a.url);
    await user.post('/login', { id: 'idle' });
    await warmOn([b], user.cookie);
    await delay(1_200); // past the idle timeout, measured from the last write or slide
    expect((await through(b, user.cookie).get('/whole')).body.user).toBeUndefined();
  });
});
