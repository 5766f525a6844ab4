import Redis from 'ioredis';
import { setTimeout as delay } from 'node:timers/promises';
import { CommandRecorder } from '../support/command-recorder';
import { uniquePrefix } from '../support/prefix';
import { waitUntil } from '../support/probe';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { startReplicas, type RunningApp } from '../session/support/session-app';
import { Visitor } from '../session/support/http-client';
import { nearCacheOf, redisKeyOfCookie, sessionCommands, through, untilServing, warmOn } from './support/near-cache-apps';

/**
 * Issue 10, §2: three replicas, each with a near cache, stay coherent through Redis's invalidations.
 * Every test warms the caches of the replicas that did not act, then checks that the first read after
 * the acting request answered shows the change. `maxEntryAge` is an hour, so the backstop can never be what
 * made a read fresh.
 */
describe('near cache: coherence across three replicas (standalone Redis)', () => {
  let redis: RedisServerHandle;
  let admin: Redis;
  const running: RunningApp[] = [];

  beforeAll(async () => {
    redis = await startRedis({ controllable: true });
    admin = new Redis(redis.url);
  });

  afterAll(async () => {
    await Promise.all(running.map((app) => app.close()));
    admin?.disconnect();
    await redis?.stop();
  });

  async function replicas(options: Record<string, unknown> = {}, count = 3): Promise<RunningApp[]> {
    const apps = await startReplicas(count, { redis: redis.url, prefix: uniquePrefix('near'), nearCache: { maxEntryAge: 3_600_000 }, ...options });
    running.push(...apps);
    await untilServing(apps);
    return apps;
  }

  async function loginOn(app: RunningApp, id: string): Promise<Visitor> {
    const visitor = new Visitor(app.url);
    expect((await visitor.post('/login', { id })).status).toBe(200);
    expect((await visitor.post('/set/color', { value: 'red' })).status).toBe(200);
    return visitor;
  }

  /** The session's data as `app` serves it to `cookie` (no user: the session is gone or anonymous). */
  async function seenOn(app: RunningApp, cookie: string | undefined): Promise<Record<string, unknown>> {
    const res = await through(app, cookie).get('/whole');
    expect(res.status).toBe(200);
    return res.body;
  }

  it('serves a warm read with no Redis command at all, and a change with one', async () => {
    const [a] = await replicas({}, 1);
    const recorder = await CommandRecorder.start(redis.url, { keyPrefix: a.prefix });
    try {
      const user = await loginOn(a, 'cost');
      await warmOn([a], user.cookie);
      await recorder.settle();
      recorder.reset();
      expect((await user.get('/whole')).body.color).toBe('red');
      expect(sessionCommands(await recorder.settle())).toEqual([]);
      recorder.reset();
      expect((await user.post('/set/color', { value: 'blue' })).status).toBe(200);
      expect(sessionCommands(await recorder.settle()).map((c) => c.name)).toHaveLength(1);
    } finally {
      await recorder.stop();
    }
  });

  type Change = (context: { a: RunningApp; user: Visitor; other: Visitor }) => Promise<void>;
  const changes: [string, Change, (data: Record<string, unknown>) => void][] = [
    [
      'a save (the end-of-request write)',
      async ({ user }) => void expect((await user.post('/set/color', { value: 'blue' })).status).toBe(200),
      (data) => expect(data.color).toBe('blue'),
    ],
    [
      'an update (SessionService.update, compare-and-set)',
      async ({ user }) => void expect((await user.post('/items', { item: 'book' })).status).toBe(200),
      (data) => expect(data.items).toEqual(['book']),
    ],
    [
      'a login rotation (the old ID dies)',
      async ({ user }) => void expect((await user.post('/login', { id: 'someone-else' })).status).toBe(200),
      (data) => expect(data.user).toBeUndefined(),
    ],
    ['a logout', async ({ user }) => void expect((await user.post('/logout')).status).toBe(204), (data) => expect(data.user).toBeUndefined()],
    [
      'a revoke from another device',
      async ({ other }) => {
        const list = await other.get('/sessions');
        const target = list.body.find((s: { current: boolean }) => !s.current);
        expect((await other.delete(`/sessions/${target.id}`)).body).toEqual({ revoked: true });
      },
      (data) => expect(data.user).toBeUndefined(),
    ],
    [
      'a log out everywhere from another device',
      async ({ other }) => void expect((await other.post('/logout-all', {})).body).toEqual({ deleted: 2 }),
      (data) => expect(data.user).toBeUndefined(),
    ],
  ];

  it.each(changes)('after %s on replica A, B and C show it on their very next read', async (_name, change, check) => {
    const [a, b, c] = await replicas();
    const id = `u-${Math.random().toString(36).slice(2)}`;
    const user = await loginOn(a, id);
    const other = await loginOn(a, id);
    const cookie = user.cookie;
    await warmOn([b, c], cookie);
    const before = [await seenOn(b, cookie), await seenOn(c, cookie)];
    expect(before.map((data) => data.color)).toEqual(['red', 'red']);

    await change({ a, user, other });

    for (const app of [b, c]) check(await seenOn(app, cookie));
  });

  it('sees a change or a deletion made by another Redis client, long before maxEntryAge', async () => {
    const [a, b] = await replicas({}, 2);
    const user = await loginOn(a, 'external');
    const redisKey = redisKeyOfCookie(a.prefix, user.cookie);
    await warmOn([a, b], user.cookie);

    await admin.hset(redisKey, 'color', JSON.stringify('green'));
    // Another client's write has no request to wait for: Redis's invalidation is all there is.
    await waitUntil(
      'both replicas to show the external change',
      async () => (await seenOn(a, user.cookie)).color === 'green' && (await seenOn(b, user.cookie)).color === 'green',
      {
        timeoutMs: 5_000,
      },
    );
    await admin.del(redisKey);
    await waitUntil(
      'both replicas to lose the deleted session',
      async () => (await seenOn(a, user.cookie)).user === undefined && (await seenOn(b, user.cookie)).user === undefined,
      {
        timeoutMs: 5_000,
      },
    );
  });

  it('never serves a session past its idle timeout or its absolute deadline from the cache', async () => {
    const [a, b] = await replicas({ idleTimeout: 1_000, absoluteTimeout: 1_500 }, 2);
    const idle = await loginOn(a, 'idle');
    await warmOn([b], idle.cookie);
    await delay(1_100);
    expect((await seenOn(b, idle.cookie)).user).toBeUndefined();

    const before = Date.now();
    const busy = await loginOn(a, 'busy');
    const after = Date.now();
    await warmOn([b], busy.cookie);
    // Read every 200 ms: the idle timeout keeps sliding, the absolute deadline (1.5 s after login) does not.
    while (Date.now() < before + 1_250) {
      expect((await seenOn(b, busy.cookie)).user).toEqual({ id: 'busy', name: 'busy' });
      await delay(200);
    }
    await delay(Math.max(0, after + 1_550 - Date.now()));
    expect((await seenOn(b, busy.cookie)).user).toBeUndefined();
  });

  it('drops everything on FLUSHALL', async () => {
    const [a, b, c] = await replicas();
    const user = await loginOn(a, 'flush');
    await warmOn([a, b, c], user.cookie);
    await admin.flushall();
    // Another client's FLUSHALL, like its writes, has no request to wait for: Redis's invalidation
    // (a null message) may land just after the next request on a busy machine, never much later.
    await waitUntil(
      'every replica to drop the flushed session',
      async () => {
        for (const app of [a, b, c]) if ((await seenOn(app, user.cookie)).user !== undefined) return false;
        return true;
      },
      { timeoutMs: 5_000 },
    );
    // Tracking stays armed: the next session is cached and kept coherent as before.
    const next = await loginOn(a, 'after-flush');
    await warmOn([b], next.cookie);
    await next.post('/set/color', { value: 'blue' });
    expect((await seenOn(b, next.cookie)).color).toBe('blue');
  });

  it('flushes and stops serving when its invalidation connection is killed, then arms again', async () => {
    const [a, b] = await replicas({}, 2);
    const user = await loginOn(a, 'killed');
    const redisKey = redisKeyOfCookie(a.prefix, user.cookie);
    await warmOn([b], user.cookie);
    await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    // With the subscriber gone Redis has nobody to tell of this write: the cache must not be what answers.
    await admin.hset(redisKey, 'color', JSON.stringify('green'));
    expect((await seenOn(b, user.cookie)).color).toBe('green');
    await untilServing([a, b]);
    await warmOn([b], user.cookie);
    await user.post('/set/color', { value: 'blue' });
    expect((await seenOn(b, user.cookie)).color).toBe('blue');
  });

  it('answers 503 while Redis is down (never a cached session), and is coherent again after a restart', async () => {
    const [a, b] = await replicas({}, 2);
    const user = await loginOn(a, 'restart');
    await warmOn([a, b], user.cookie);
    await redis.interrupt();
    try {
      for (const app of [a, b]) expect((await through(app, user.cookie).get('/whole')).status).toBe(503);
    } finally {
      await redis.resume();
    }
    await untilServing([a, b], 30_000);
    expect((await seenOn(b, user.cookie)).color).toBe('red');
    await warmOn([b], user.cookie);
    await user.post('/set/color', { value: 'blue' });
    expect((await seenOn(b, user.cookie)).color).toBe('blue');
    expect(nearCacheOf(b).serving()).toBe(true);
  });
});
