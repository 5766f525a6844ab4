import { randomBytes } from 'node:crypto';
import { ConflictException } from '@nestjs/common';
import { SessionConflictError, type RedisSessionStoreOptions } from '@app/session';
import { FIELD } from '@app/session/redis/session-fields';
import type { SessionEventFacts, SessionObserver } from '@app/session/redis/session-observer';
import { SessionUserIndexKeeper } from '@app/session/users/user-index-keeper';
import { defaultSessionUserId } from '@app/session/users/user-id';
import { UserSessionIndex, type UserSessionLimit } from '@app/session/users/user-session-index';
import { CommandRecorder } from '../support/command-recorder';
import { freshSession, loadSession, newSid, recordingLogger, redisPerSpec, saveSession, sleepUntilAfter, storeWithCore, type LiveSession } from './fixtures';
import { digestOf, sessionRedisKey, storedField } from '../support/key-scheme';

/** Each user's sessions in one sorted set: listing, revoking, the per-user limit and lazy pruning. */
const db = redisPerSpec('index');

const NO_LIMIT: UserSessionLimit = { maxSessions: 0, onLimit: 'evict-oldest' };

/** A store whose saves keep the user index, as `SessionModule` wires it: a session joins its user's index in its save. */
function setup(limit: UserSessionLimit = NO_LIMIT, options: Partial<RedisSessionStoreOptions> = {}, observer?: SessionObserver) {
  let index!: UserSessionIndex;
  const { store, core } = storeWithCore(
    { client: db.client, prefix: db.prefix, logger: recordingLogger(), ...options },
    {
      features: (context) => {
        index = new UserSessionIndex(context, limit);
        return { indexKeeper: new SessionUserIndexKeeper(index, defaultSessionUserId) };
      },
      observer,
    },
  );
  return { store, core, index };
}

interface Device {
  sid: string;
  digest: string;
  createdAt: number;
  userAgent: string;
}

/** A logged-in session as the library stores it (with its device metadata), joining its user's index in the same save, as a login does. */
async function login(
  ctx: ReturnType<typeof setup>,
  userId: string,
  createdAt = Date.now(),
  cookie: object = { maxAge: 60_000 },
  userAgent = `agent-${createdAt}`,
): Promise<Device> {
  const { store, core } = ctx;
  const sid = newSid();
  const session = freshSession(store, sid, { user: { id: userId } }, cookie);
  const state = core.context.stateFor(session);
  state.createdAt = createdAt;
  state.pendingMeta = { [FIELD.userAgent]: userAgent, [FIELD.ip]: '203.0.113.7', [FIELD.lastSeenAt]: String(createdAt + 5) };
  await store.set(sid, session);
  return { sid, digest: digestOf(sid), createdAt, userAgent };
}

const members = (index: UserSessionIndex, userId: string) => db.admin.zrange(index.redisKeyOf(userId), 0, '-1');
const stored = (device: Device) => db.admin.exists(sessionRedisKey(db.prefix, device.sid));

/** The limit's refusal as the store's caller gets it: Nest's 409, caused by the index's SessionConflictError. */
function limitErrorOf(error: unknown): SessionConflictError {
  expect(error).toBeInstanceOf(ConflictException);
  const cause = (error as ConflictException).cause;
  expect(cause).toBeInstanceOf(SessionConflictError);
  return cause as SessionConflictError;
}

describe('join and list', () => {
  it("lists a browser's user agent whole, though Redis holds it in pieces", async () => {
    const ctx = setup();
    const browser = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 — ünïcödé';
    const device = await login(ctx, 'ada', Date.now(), { maxAge: 60_000 }, browser);
    await expect(db.admin.hget(sessionRedisKey(db.prefix, device.sid), FIELD.userAgent)).resolves.toMatch(
      new RegExp(`^${String.fromCharCode(0x1f)}\\d+:Mozilla`),
    );
    const [listed] = await ctx.index.list('ada');
    expect(listed.userAgent).toBe(browser);
    expect(listed.createdAt.getTime()).toBe(device.createdAt);
  });

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

  it("joins a session whose user was set directly (passport's req.logIn) with the device of the session's request, never over one already given", async () => {
    const ctx = setup();
    const ofRequest = (userAgent: string, ip: string) => ({ headers: { 'user-agent': userAgent }, ip });
    // The user set by the app, not by SessionService.login: the device comes from the request the session keeps.
    const direct = newSid();
    await ctx.store.set(direct, freshSession(ctx.store, direct, { user: { id: 'ada' } }, { maxAge: 60_000 }, ofRequest('Passport/1', '198.51.100.9')));
    // A login gave its device already (pendingMeta): the request's does not replace it.
    const login = newSid();
    const loggingIn = freshSession(ctx.store, login, { user: { id: 'ada' } }, { maxAge: 60_000 }, ofRequest('Request/1', '198.51.100.10'));
    ctx.core.context.stateFor(loggingIn).pendingMeta = { [FIELD.userAgent]: 'Login/1', [FIELD.ip]: '203.0.113.7', [FIELD.lastSeenAt]: String(Date.now()) };
    await ctx.store.set(login, loggingIn);
    // Without a request (a store used outside a request), it joins without a device.
    const bare = newSid();
    await ctx.store.set(bare, freshSession(ctx.store, bare, { user: { id: 'ada' } }, { maxAge: 60_000 }));

    await expect(ctx.index.list('ada')).resolves.toHaveLength(3);
    const rowOf = async (sid: string) => (await ctx.index.list('ada', digestOf(sid))).find((row) => row.current);
    await expect(rowOf(direct)).resolves.toMatchObject({ userAgent: 'Passport/1', ip: '198.51.100.9' });
    await expect(rowOf(login)).resolves.toMatchObject({ userAgent: 'Login/1', ip: '203.0.113.7' });
    const bareRow = await rowOf(bare);
    expect(bareRow).toMatchObject({ userAgent: null, ip: null });
    expect(bareRow!.lastSeenAt).toEqual(bareRow!.createdAt); // never seen since: last seen at its creation

    // The stored session switches to another user in a later request: it moves to bob's index with the device it has.
    const laterRequest = { sessionID: direct, sessionStore: ctx.store, ...ofRequest('Later/1', '198.51.100.11') };
    const reloaded = ctx.store.createSession(laterRequest as never, (await ctx.store.get(direct))!) as LiveSession;
    reloaded.user = { id: 'bob' };
    await saveSession(reloaded);
    await expect(members(ctx.index, 'ada')).resolves.not.toContain(digestOf(direct));
    await expect(ctx.index.list('bob')).resolves.toEqual([expect.objectContaining({ userAgent: 'Passport/1', ip: '198.51.100.9' })]);
  });

  it('a session whose user is taken away (a passport logout) leaves its index in its save', async () => {
    const ctx = setup();
    const [leaving, staying] = [await login(ctx, 'ada'), await login(ctx, 'ada')];
    const session = await loadSession(ctx.store, leaving.sid);
    delete session.user;
    await saveSession(session);
    await expect(members(ctx.index, 'ada')).resolves.toEqual([staying.digest]);
    await expect(stored(leaving)).resolves.toBe(1); // still a session, an anonymous one
  });

  it('one session object saved twice, switching users between the saves, leaves the index its first save joined', async () => {
    const ctx = setup();
    const sid = newSid();
    const session = freshSession(ctx.store, sid, { user: { id: 'ada' } }, { maxAge: 60_000 });
    await saveSession(session);
    await expect(members(ctx.index, 'ada')).resolves.toEqual([digestOf(sid)]);
    session.user = { id: 'bob' }; // the same request (or object) goes on: the first save's entry is what it leaves
    await saveSession(session);
    await expect(members(ctx.index, 'ada')).resolves.toEqual([]);
    await expect(members(ctx.index, 'bob')).resolves.toEqual([digestOf(sid)]);
  });

  it('with encryption, lists the device opened, null for a field a session lacks or one that does not open (sealed for another session)', async () => {
    const logger = recordingLogger();
    const ctx = setup(NO_LIMIT, { encryption: { keys: [randomBytes(32).toString('base64')] }, logger });
    const [phone, laptop] = [await login(ctx, 'ada', Date.now() - 10), await login(ctx, 'ada')];
    const bare = newSid();
    await ctx.store.set(bare, freshSession(ctx.store, bare, { user: { id: 'ada' } }, { maxAge: 60_000 }));
    // A user agent sealed for the laptop's key, copied into the phone's hash: it opens for no other key.
    const sealedForLaptop = (await storedField(db.admin, sessionRedisKey(db.prefix, laptop.sid), FIELD.userAgent))!;
    await db.admin.hset(sessionRedisKey(db.prefix, phone.sid), FIELD.userAgent, sealedForLaptop);

    const listed = await ctx.index.list('ada');
    // Two of the three may be created in the same ms: their order in the list is not the point here.
    const rows = listed.map((row) => JSON.stringify([row.userAgent, row.ip])).sort();
    expect(rows).toEqual(
      [
        [null, null],
        [laptop.userAgent, '203.0.113.7'],
        [null, '203.0.113.7'],
      ]
        .map((row) => JSON.stringify(row))
        .sort(),
    );
    // The field that did not open, logged once, its session named by the start of its digest.
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(String(logger.warn.mock.calls[0][0])).toContain(`${phone.digest.slice(0, 8)}… in Redis: field ":u" does not authenticate`);
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
    await expect(db.admin.exists(sessionRedisKey(db.prefix, a.sid))).resolves.toBe(1);

    await expect(ctx.index.revoke('ada', older.id)).resolves.toBe(true);
    await expect(db.admin.exists(sessionRedisKey(db.prefix, a.sid))).resolves.toBe(0);
    await expect(members(ctx.index, 'ada')).resolves.toEqual([b.digest]);
    await expect(ctx.index.list('ada')).resolves.toEqual([expect.objectContaining({ id: newest.id })]);
    await expect(ctx.index.revoke('ada', older.id)).resolves.toBe(false); // already gone
  });

  it('revokes all of a user sessions but the excepted one, leaving other users alone', async () => {
    const ctx = setup();
    const ada = [await login(ctx, 'ada'), await login(ctx, 'ada'), await login(ctx, 'ada')];
    const bob = await login(ctx, 'bob');

    await expect(ctx.index.revokeAll('ada', [ada[1].digest])).resolves.toBe(2);
    const alive = await Promise.all(ada.map((d) => db.admin.exists(sessionRedisKey(db.prefix, d.sid))));
    expect(alive).toEqual([0, 1, 0]);
    await expect(members(ctx.index, 'ada')).resolves.toEqual([ada[1].digest]);
    await expect(db.admin.exists(sessionRedisKey(db.prefix, bob.sid))).resolves.toBe(1);

    await expect(ctx.index.revokeAll('ada')).resolves.toBe(1);
    await expect(ctx.index.list('ada')).resolves.toEqual([]);
    await expect(ctx.index.list('bob')).resolves.toHaveLength(1);
  });
});

describe('what metrics and events hear', () => {
  /** An observer as metrics and SessionEvents are: it hears the sessions ended and one revoked event per session. */
  function recording(withEvents = true) {
    const ended: string[] = [];
    const events: SessionEventFacts[] = [];
    const observer: SessionObserver = { sessionEnded: (reason, count) => ended.push(`${reason} ${count}`) };
    // The saves tell their own events (created, login): only those of the index are kept here.
    if (withEvents) observer.sessionEvent = (facts) => facts.type === 'revoked' && events.push(facts);
    return { observer, ended, events };
  }

  it('a revoke tells one session revoked, by digest and user; a handle whose session is already gone tells nothing', async () => {
    const heard = recording();
    const ctx = setup(NO_LIMIT, {}, heard.observer);
    const [gone, live] = [await login(ctx, 'ada', Date.now() - 10), await login(ctx, 'ada')];
    const [liveRow, goneRow] = await ctx.index.list('ada');
    await db.admin.del(sessionRedisKey(db.prefix, gone.sid)); // idle-expired meanwhile: its member is still there

    await expect(ctx.index.revoke('ada', goneRow.id)).resolves.toBe(false);
    expect(heard.ended).toEqual([]);
    expect(heard.events).toEqual([]);
    await expect(ctx.index.revoke('ada', liveRow.id)).resolves.toBe(true);
    expect(heard.ended).toEqual(['revoked 1']);
    expect(heard.events).toEqual([{ type: 'revoked', digest: live.digest, userId: 'ada' }]);
  });

  it('log out everywhere tells how many sessions it ended, and one event per session it deleted', async () => {
    const heard = recording();
    const ctx = setup(NO_LIMIT, {}, heard.observer);
    const [gone, ...live] = [await login(ctx, 'ada'), await login(ctx, 'ada'), await login(ctx, 'ada')];
    await db.admin.del(sessionRedisKey(db.prefix, gone.sid));

    await expect(ctx.index.revokeAll('ada')).resolves.toBe(2);
    expect(heard.ended).toEqual(['revoked 2']);
    const digests = live.map((device) => device.digest);
    // One event per session deleted, in no set order (the deletes run side by side).
    expect(heard.events.map((event) => event.digest).sort()).toEqual(digests.sort());
    for (const event of heard.events) expect(event).toEqual({ type: 'revoked', digest: expect.any(String), userId: 'ada' });
    // Nothing left to end: nothing heard.
    await expect(ctx.index.revokeAll('ada')).resolves.toBe(0);
    expect(heard.ended).toEqual(['revoked 2']);
  });

  it('an eviction past the limit tells one session evicted, as a revoked event of its user', async () => {
    const heard = recording();
    const ctx = setup({ maxSessions: 1, onLimit: 'evict-oldest' }, {}, heard.observer);
    const first = await login(ctx, 'ada', Date.now() - 10);
    expect(heard.ended).toEqual([]);
    await login(ctx, 'ada');
    expect(heard.ended).toEqual(['evicted 1']);
    expect(heard.events).toEqual([{ type: 'revoked', digest: first.digest, userId: 'ada' }]);
  });

  it('an observer without events (metrics alone) hears the counts, and nothing fails for want of the event hook', async () => {
    const heard = recording(false);
    const ctx = setup({ maxSessions: 1, onLimit: 'evict-oldest' }, {}, heard.observer);
    await login(ctx, 'ada', Date.now() - 10);
    const kept = await login(ctx, 'ada');
    await expect(ctx.index.revoke('ada', (await ctx.index.list('ada'))[0].id)).resolves.toBe(true);
    expect(heard.ended).toEqual(['evicted 1', 'revoked 1']);
    await expect(db.admin.exists(sessionRedisKey(db.prefix, kept.sid))).resolves.toBe(0);
  });
});

describe('per-user limit', () => {
  it('evict-oldest: makes room by deleting the oldest session and its entry', async () => {
    const ctx = setup({ maxSessions: 3, onLimit: 'evict-oldest' });
    const now = Date.now();
    const first = await login(ctx, 'ada', now - 40);
    const others = [await login(ctx, 'ada', now - 30), await login(ctx, 'ada', now - 20)];
    await expect(Promise.all([first, ...others].map(stored))).resolves.toEqual([1, 1, 1]);
    const fourth = await login(ctx, 'ada', now - 10);
    await expect(Promise.all([first, ...others, fourth].map(stored))).resolves.toEqual([0, 1, 1, 1]);
    await expect(db.admin.zcard(ctx.index.redisKeyOf('ada'))).resolves.toBe(3);
    expect((await ctx.index.list('ada')).map((row) => row.userAgent)).not.toContain(first.userAgent);
  });

  it("reject: refuses the session past the limit with SessionConflictError 'limit', storing nothing, and lets a known member back in", async () => {
    const ctx = setup({ maxSessions: 2, onLimit: 'reject' });
    const kept = [await login(ctx, 'ada'), await login(ctx, 'ada')];
    const extraSid = newSid();
    const error = limitErrorOf(await ctx.store.set(extraSid, freshSession(ctx.store, extraSid, { user: { id: 'ada' } })).catch((e: unknown) => e));
    expect(error).toMatchObject({ reason: 'limit' });
    expect(error.message).toMatch(/2 active sessions.*users\.maxSessions/);
    await expect(db.admin.exists(sessionRedisKey(db.prefix, extraSid))).resolves.toBe(0);
    await expect(db.admin.zcard(ctx.index.redisKeyOf('ada'))).resolves.toBe(2);
    // The same session written whole again (say, by a replica that never read it) joins as the member it is.
    const again = freshSession(ctx.store, kept[0].sid, { user: { id: 'ada' } }, { maxAge: 60_000 });
    ctx.core.context.stateFor(again).createdAt = kept[0].createdAt;
    await expect(ctx.store.set(kept[0].sid, again)).resolves.toBeUndefined();
    await expect(members(ctx.index, 'ada').then((digests) => digests.sort())).resolves.toEqual(kept.map((d) => d.digest).sort());
  });

  it('hasRoom: false only at the limit under reject, counting live sessions only', async () => {
    const reject = setup({ maxSessions: 2, onLimit: 'reject' });
    await expect(reject.index.hasRoom('ada')).resolves.toBe(true);
    const [first] = [await login(reject, 'ada'), await login(reject, 'ada')];
    await expect(reject.index.hasRoom('ada')).resolves.toBe(false);
    await expect(reject.index.hasRoom('bob')).resolves.toBe(true);
    await db.admin.del(sessionRedisKey(db.prefix, first.sid)); // idle-expired: its member no longer counts
    await expect(reject.index.hasRoom('ada')).resolves.toBe(true);
    await expect(members(reject.index, 'ada')).resolves.toHaveLength(1); // and is gone from the index
    // evict-oldest always makes room; no limit is no limit.
    for (const limit of [
      { maxSessions: 1, onLimit: 'evict-oldest' },
      { maxSessions: 0, onLimit: 'reject' },
    ] as const) {
      const ctx = setup(limit);
      await login(ctx, 'cy');
      await login(ctx, 'cy');
      await expect(ctx.index.hasRoom('cy')).resolves.toBe(true);
    }
  });

  it.each(['evict-oldest', 'reject'] as const)('never ends above the limit under 10 simultaneous logins (%s)', async (onLimit) => {
    const ctx = setup({ maxSessions: 3, onLimit });
    const now = Date.now();
    const sids = Array.from({ length: 10 }, newSid);
    const results = await Promise.allSettled(
      sids.map((sid, i) => {
        const session = freshSession(ctx.store, sid, { user: { id: 'ada' } }, { maxAge: 60_000 });
        ctx.core.context.stateFor(session).createdAt = now - 100 + i;
        return ctx.store.set(sid, session);
      }),
    );

    const remaining = await members(ctx.index, 'ada');
    expect(remaining).toHaveLength(3);
    const alive = await Promise.all(sids.map((sid) => db.admin.exists(sessionRedisKey(db.prefix, sid))));
    const live = sids.filter((_, i) => alive[i] === 1).map(digestOf);
    expect(live.sort()).toEqual([...remaining].sort()); // every member has its session, every session its member
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (onLimit === 'reject') {
      expect(rejected).toHaveLength(7);
      for (const r of rejected) expect(limitErrorOf(r.reason)).toMatchObject({ reason: 'limit' });
      // The refused logins stored nothing; the three that got in are the sessions left.
      expect(
        sids
          .filter((_, i) => results[i].status === 'fulfilled')
          .map(digestOf)
          .sort(),
      ).toEqual([...remaining].sort());
    } else {
      expect(rejected).toEqual([]); // the seven others were evicted, their sessions deleted
    }
  });

  it('does not count a member whose session is gone against the limit: the next login drops it', async () => {
    // Every entry is written with (or after) its session, so an entry without a session key is a dead session.
    const ctx = setup({ maxSessions: 2, onLimit: 'reject' });
    const [gone, kept] = [await login(ctx, 'ada'), await login(ctx, 'ada')];
    await db.admin.del(sessionRedisKey(db.prefix, gone.sid)); // idle-expired, say: its entry stays
    await expect(members(ctx.index, 'ada')).resolves.toHaveLength(2);
    const another = await login(ctx, 'ada');
    await expect(members(ctx.index, 'ada').then((digests) => digests.sort())).resolves.toEqual([kept.digest, another.digest].sort());
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
    for (const d of short) await expect(db.admin.zscore(ctx.index.redisKeyOf('ada'), d.digest)).resolves.toBeNull();
  });

  it('leaves out members past the absolute timeout by score, and the next login removes them', async () => {
    const absoluteTimeout = 60_000;
    const ctx = setup(NO_LIMIT, { idleTimeout: absoluteTimeout, absoluteTimeout });
    const now = Date.now();
    // A key that somehow outlived its deadline (say, written before absoluteTimeout was configured).
    const recent = await login(ctx, 'ada', now - 1_000);
    const old = newSid();
    await db.admin.hset(sessionRedisKey(db.prefix, old), FIELD.createdAt, now - absoluteTimeout - 1_000, 'user', '{"id":"ada"}');
    await db.admin.pexpire(sessionRedisKey(db.prefix, old), 600_000);
    await db.admin.zadd(ctx.index.redisKeyOf('ada'), now - absoluteTimeout - 1_000, digestOf(old));

    expect((await ctx.index.list('ada')).map((row) => row.userAgent)).toEqual([recent.userAgent]);
    await expect(ctx.index.revoke('ada', (await ctx.index.list('ada'))[0].id)).resolves.toBe(true);
    await login(ctx, 'ada');
    await expect(db.admin.zscore(ctx.index.redisKeyOf('ada'), digestOf(old))).resolves.toBeNull();
    // The index itself does not outlive its members for long.
    const ttl = await db.admin.pttl(ctx.index.redisKeyOf('ada'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(absoluteTimeout + 60_000);
  });
});

describe('cost', () => {
  it('on standalone Redis, a login saves the session and joins its index in one script, after one read of the index to prune it', async () => {
    const ctx = setup();
    const recorder = await CommandRecorder.start(db.url, { keyPrefix: db.prefix });
    try {
      await login(ctx, 'ada');
      const names = (await recorder.settle()).map((command) => command.name);
      expect(names[0]).toBe('ZRANGE');
      expect(names.slice(1).map((name) => name.replace(/^EVAL(SHA)?$/, 'script'))).toEqual(['script']); // EVAL the first time, EVALSHA after
    } finally {
      await recorder.stop();
    }
  });

  it('revoking a handle the user does not have reads the index and nothing else', async () => {
    const ctx = setup();
    await login(ctx, 'ada');
    const recorder = await CommandRecorder.start(db.url, { keyPrefix: db.prefix });
    try {
      await expect(ctx.index.revoke('ada', 'no-such-handle')).resolves.toBe(false);
      expect((await recorder.settle()).map((command) => command.name)).toEqual(['ZRANGE']);
    } finally {
      await recorder.stop();
    }
  });

  it('lists 5 sessions among 20,000 unrelated ones with a handful of commands, never SCAN or KEYS', async () => {
    const ctx = setup();
    for (let batch = 0; batch < 20; batch++) {
      const pipeline = db.admin.pipeline();
      for (let i = 0; i < 1_000; i++) pipeline.hset(`${db.prefix}${digestOf(`other-${batch}-${i}`)}`, FIELD.createdAt, Date.now(), 'user', '{"id":"x"}');
      await pipeline.exec();
    }
    for (let i = 0; i < 5; i++) await login(ctx, 'ada', Date.now() - i);

    const recorder = await CommandRecorder.start(db.url, { keyPrefix: db.prefix });
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
