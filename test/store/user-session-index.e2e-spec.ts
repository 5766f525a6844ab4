import Redis from 'ioredis';
import { RedisSessionStore, SessionConflictError, type RedisSessionStoreOptions } from '@app/session';
import { FIELD } from '@app/session/redis/session-fields';
import { digestOf } from '@app/session/redis/session-id';
import { SessionPersistence } from '@app/session/store/session-persistence';
import { UserSessionIndex, type UserSessionLimit } from '@app/session/users/user-session-index';
import { CommandRecorder } from '../support/command-recorder';
import { deleteByPrefix, uniquePrefix } from '../support/prefix';
import type { RedisServerHandle } from '../support/redis';
import { closeStoreRedis, openStoreRedis, freshSession, newSid, recordingLogger, sleepUntilAfter } from './fixtures';
import { sessionRedisKey } from '@app/session/redis/redis-keys';

/** Each user's sessions in one sorted set: listing, revoking, the per-user limit and lazy pruning. */
let redis: RedisServerHandle;
let client: Redis;
let admin: Redis;
let prefix: string;

beforeAll(async () => {
  ({ redis, client, admin } = await openStoreRedis());
});
afterAll(() => closeStoreRedis({ redis, client, admin }));
beforeEach(() => {
  prefix = uniquePrefix('index');
});
afterEach(() => deleteByPrefix(admin, prefix));

const NO_LIMIT: UserSessionLimit = { maxSessions: 0, onLimit: 'evict-oldest' };

function setup(limit: UserSessionLimit = NO_LIMIT, options: Partial<RedisSessionStoreOptions> = {}) {
  const storeOptions: RedisSessionStoreOptions = { client, prefix, logger: recordingLogger(), ...options };
  const sessions = new SessionPersistence(storeOptions);
  const store = new RedisSessionStore(storeOptions, sessions);
  return { store, sessions, index: new UserSessionIndex(sessions, limit) };
}

interface Device {
  sid: string;
  digest: string;
  createdAt: number;
  userAgent: string;
}

/** A logged-in session as the library stores it (with its device metadata), not yet in the index. */
async function storeSession(
  ctx: ReturnType<typeof setup>,
  userId: string,
  createdAt: number,
  userAgent: string,
  cookie: object = { maxAge: 60_000 },
): Promise<Device> {
  const { store, sessions } = ctx;
  const sid = newSid();
  const session = freshSession(store, sid, { user: { id: userId } }, cookie);
  const state = sessions.stateFor(session);
  state.createdAt = createdAt;
  state.pendingMeta = { [FIELD.userAgent]: userAgent, [FIELD.ip]: '203.0.113.7', [FIELD.lastSeenAt]: String(createdAt + 5) };
  await store.set(sid, session);
  return { sid, digest: digestOf(sid), createdAt, userAgent };
}

/** Stores a session and adds it to the user's index, as a login does. */
async function login(ctx: ReturnType<typeof setup>, userId: string, createdAt = Date.now(), cookie?: object): Promise<Device & { evicted: string[] }> {
  const device = await storeSession(ctx, userId, createdAt, `agent-${createdAt}`, cookie);
  const evicted = await ctx.index.add(userId, device.digest, createdAt);
  return { ...device, evicted };
}

const members = (index: UserSessionIndex, userId: string) => admin.zrange(index.redisKeyOf(userId), 0, '-1');

describe('add and list', () => {
  it('lists the user sessions newest first, with their metadata and opaque handles', async () => {
    const ctx = setup();
    const now = Date.now();
    const devices = [];
    for (const age of [3_000, 1_000, 2_000]) devices.push(await login(ctx, 'ada', now - age));
    await login(ctx, 'bob', now);

    const listed = await ctx.index.list('ada', devices[1].digest);
    const newestFirst = [devices[1], devices[2], devices[0]];
    expect(listed.map((row) => row.createdAt.getTime())).toEqual(newestFirst.map((d) => d.createdAt));
    expect(listed.map((row) => row.userAgent)).toEqual(newestFirst.map((d) => d.userAgent));
    expect(listed[0]).toMatchObject({ ip: '203.0.113.7', current: true, lastSeenAt: new Date(devices[1].createdAt + 5) });
    expect(listed.filter((row) => row.current)).toHaveLength(1);

    const handles = listed.map((row) => row.id);
    expect(new Set(handles).size).toBe(3);
    const secrets = devices.flatMap((d) => [d.sid, d.digest]);
    for (const handle of handles) {
      expect(handle).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(secrets.filter((secret) => secret.includes(handle) || handle.includes(secret))).toEqual([]);
    }
  });

  it('answers an empty list for a user without sessions', async () => {
    await expect(setup().index.list('nobody')).resolves.toEqual([]);
  });
});

describe('revoke and revokeAll', () => {
  it('revokes one session by handle, and answers false for an unknown handle or another user', async () => {
    const ctx = setup();
    const [a, b] = [await login(ctx, 'ada', Date.now() - 10), await login(ctx, 'ada')];
    const [newest, older] = await ctx.index.list('ada');

    await expect(ctx.index.revoke('bob', older.id)).resolves.toBe(false); // not bob's
    await expect(ctx.index.revoke('ada', 'no-such-handle')).resolves.toBe(false);
    await expect(admin.exists(sessionRedisKey(prefix, a.sid))).resolves.toBe(1);

    await expect(ctx.index.revoke('ada', older.id)).resolves.toBe(true);
    await expect(admin.exists(sessionRedisKey(prefix, a.sid))).resolves.toBe(0);
    await expect(members(ctx.index, 'ada')).resolves.toEqual([b.digest]);
    await expect(ctx.index.list('ada')).resolves.toEqual([expect.objectContaining({ id: newest.id })]);
    await expect(ctx.index.revoke('ada', older.id)).resolves.toBe(false); // already gone
  });

  it('revokes all of a user sessions but the excepted one, leaving other users alone', async () => {
    const ctx = setup();
    const ada = [await login(ctx, 'ada'), await login(ctx, 'ada'), await login(ctx, 'ada')];
    const bob = await login(ctx, 'bob');

    await expect(ctx.index.revokeAll('ada', ada[1].digest)).resolves.toBe(2);
    const alive = await Promise.all(ada.map((d) => admin.exists(sessionRedisKey(prefix, d.sid))));
    expect(alive).toEqual([0, 1, 0]);
    await expect(members(ctx.index, 'ada')).resolves.toEqual([ada[1].digest]);
    await expect(admin.exists(sessionRedisKey(prefix, bob.sid))).resolves.toBe(1);

    await expect(ctx.index.revokeAll('ada')).resolves.toBe(1);
    await expect(ctx.index.list('ada')).resolves.toEqual([]);
    await expect(ctx.index.list('bob')).resolves.toHaveLength(1);
  });
});

describe('per-user limit', () => {
  it("evict-oldest: makes room by returning the oldest sessions' digests", async () => {
    const ctx = setup({ maxSessions: 3, onLimit: 'evict-oldest' });
    const now = Date.now();
    const first = await login(ctx, 'ada', now - 40);
    for (const age of [30, 20]) expect((await login(ctx, 'ada', now - age)).evicted).toEqual([]);
    const fourth = await login(ctx, 'ada', now - 10);
    expect(fourth.evicted).toEqual([first.digest]);
    await expect(admin.zcard(ctx.index.redisKeyOf('ada'))).resolves.toBe(3);
    expect((await ctx.index.list('ada')).map((row) => row.userAgent)).not.toContain(first.userAgent);
  });

  it("reject: refuses the session past the limit with SessionConflictError 'limit', and lets a known member back in", async () => {
    const ctx = setup({ maxSessions: 2, onLimit: 'reject' });
    const kept = [await login(ctx, 'ada'), await login(ctx, 'ada')];
    const extra = await storeSession(ctx, 'ada', Date.now(), 'extra');
    const error = await ctx.index.add('ada', extra.digest, extra.createdAt).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionConflictError);
    expect(error).toMatchObject({ reason: 'limit' });
    expect((error as Error).message).toMatch(/2 active sessions.*maxSessionsPerUser/);
    await expect(admin.zcard(ctx.index.redisKeyOf('ada'))).resolves.toBe(2);
    await expect(ctx.index.add('ada', kept[0].digest, kept[0].createdAt)).resolves.toEqual([]);
  });

  it.each(['evict-oldest', 'reject'] as const)('never ends above the limit under 10 simultaneous adds (%s)', async (onLimit) => {
    const ctx = setup({ maxSessions: 3, onLimit });
    const now = Date.now();
    const devices = await Promise.all(Array.from({ length: 10 }, (_, i) => storeSession(ctx, 'ada', now - 100 + i, `d${i}`)));
    const results = await Promise.allSettled(devices.map((d) => ctx.index.add('ada', d.digest, d.createdAt)));

    const remaining = await members(ctx.index, 'ada');
    expect(remaining).toHaveLength(3);
    const fulfilled = results.filter((r): r is PromiseFulfilledResult<string[]> => r.status === 'fulfilled');
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (onLimit === 'reject') {
      expect(fulfilled).toHaveLength(3);
      expect(rejected).toHaveLength(7);
      for (const r of rejected) expect(r.reason).toMatchObject({ reason: 'limit' });
      expect(fulfilled.flatMap((r) => r.value)).toEqual([]);
    } else {
      expect(rejected).toEqual([]);
      const evicted = fulfilled.flatMap((r) => r.value);
      expect(new Set(evicted).size).toBe(7);
      expect([...evicted, ...remaining].sort()).toEqual(devices.map((d) => d.digest).sort());
    }
  });

  it('counts a member whose session a login is still saving (no key yet) against the limit', async () => {
    // SessionService.login adds the new session to the index before it saves the session.
    const ctx = setup({ maxSessions: 2, onLimit: 'reject' });
    await login(ctx, 'ada');
    const saving = newSid();
    await ctx.index.add('ada', digestOf(saving), Date.now());
    const another = await storeSession(ctx, 'ada', Date.now(), 'another');
    await expect(ctx.index.add('ada', another.digest, another.createdAt)).rejects.toMatchObject({ reason: 'limit' });
    await expect(members(ctx.index, 'ada')).resolves.toContain(digestOf(saving));
  });
});

describe('pruning', () => {
  it('drops members whose session key expired when listing', async () => {
    const ctx = setup();
    const expires = Date.now() + 250;
    const short = [await login(ctx, 'ada', Date.now(), { expires: new Date(expires) }), await login(ctx, 'ada', Date.now(), { expires: new Date(expires) })];
    const long = await login(ctx, 'ada');
    await expect(ctx.index.list('ada')).resolves.toHaveLength(3);
    await sleepUntilAfter(expires + 1);

    const listed = await ctx.index.list('ada');
    expect(listed.map((row) => row.userAgent)).toEqual([long.userAgent]);
    await expect(members(ctx.index, 'ada')).resolves.toEqual([long.digest]);
    for (const d of short) await expect(admin.zscore(ctx.index.redisKeyOf('ada'), d.digest)).resolves.toBeNull();
  });

  it('leaves out members past the absolute timeout by score, and the next add removes them', async () => {
    const absoluteTimeout = 60_000;
    const ctx = setup(NO_LIMIT, { absoluteTimeout });
    const now = Date.now();
    // A key that somehow outlived its deadline (say, written before absoluteTimeout was configured).
    const recent = await login(ctx, 'ada', now - 1_000);
    const old = newSid();
    await admin.hset(sessionRedisKey(prefix, old), FIELD.createdAt, now - absoluteTimeout - 1_000, 'user', '{"id":"ada"}');
    await admin.pexpire(sessionRedisKey(prefix, old), 600_000);
    await admin.zadd(ctx.index.redisKeyOf('ada'), now - absoluteTimeout - 1_000, digestOf(old));

    expect((await ctx.index.list('ada')).map((row) => row.userAgent)).toEqual([recent.userAgent]);
    await expect(ctx.index.revoke('ada', (await ctx.index.list('ada'))[0].id)).resolves.toBe(true);
    await login(ctx, 'ada');
    await expect(admin.zscore(ctx.index.redisKeyOf('ada'), digestOf(old))).resolves.toBeNull();
    // The index itself does not outlive its members for long.
    const ttl = await admin.pttl(ctx.index.redisKeyOf('ada'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(absoluteTimeout + 60_000);
  });
});

describe('cost', () => {
  it('lists 5 sessions among 20,000 unrelated ones with a handful of commands, never SCAN or KEYS', async () => {
    const ctx = setup();
    for (let batch = 0; batch < 20; batch++) {
      const pipeline = admin.pipeline();
      for (let i = 0; i < 1_000; i++) pipeline.hset(`${prefix}${digestOf(`other-${batch}-${i}`)}`, FIELD.createdAt, Date.now(), 'user', '{"id":"x"}');
      await pipeline.exec();
    }
    for (let i = 0; i < 5; i++) await login(ctx, 'ada', Date.now() - i);

    const recorder = await CommandRecorder.start(redis.url, { keyPrefix: prefix });
    try {
      const listed = await ctx.index.list('ada');
      expect(listed).toHaveLength(5);
      const commands = await recorder.settle();
      const names = commands.map((command) => command.name);
      expect(names).not.toContain('SCAN');
      expect(names).not.toContain('KEYS');
      expect(commands.length).toBeGreaterThan(0);
      expect(commands.length).toBeLessThanOrEqual(1 + 5); // the index, then one read per session
    } finally {
      await recorder.stop();
    }
  });
});
