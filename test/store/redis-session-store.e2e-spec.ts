import { createHash } from 'node:crypto';
import { RedisSessionStore, SessionTooLargeError, type RedisSessionStoreOptions } from '@app/session';
import { CommandRecorder, type RecordedCommand } from '../support/command-recorder';
import { isSave, saveOf, type RecordedSave } from '../support/save-args';
import { openMonitor } from '../support/monitor';
import { deleteByPrefix, uniquePrefix } from '../support/prefix';
import { freshSession, loadSession, newSid, recordingLogger, redisPerSpec, saveSession, sleepUntilAfter, viaCallback } from './fixtures';
import { sessionRedisKey, storedField } from '../support/key-scheme';

/** The store on one standalone Redis: layout, key names, expiry, resurrection, both API styles, bad data, size limit. */
const db = redisPerSpec('store');
let logger: ReturnType<typeof recordingLogger>;
beforeEach(() => {
  logger = recordingLogger();
});

function makeStore(options: Partial<RedisSessionStoreOptions> = {}): RedisSessionStore {
  return new RedisSessionStore({ client: db.client, prefix: db.prefix, logger, ...options });
}

/** The saves of one session key among recorded commands. */
function savesOf(commands: RecordedCommand[], key: string): RecordedSave[] {
  return commands
    .filter(isSave)
    .map(saveOf)
    .filter((save) => save.key === key);
}

describe('hash layout (one field per top-level key)', () => {
  it('stores one JSON field per session key, and only reserved fields start with ":"', async () => {
    const store = makeStore();
    const sid = newSid();
    await store.set(sid, freshSession(store, sid, { cart: ['book'], user: { name: 'Ada', roles: ['admin'] }, theme: 'dark' }));

    const key = sessionRedisKey(db.prefix, sid);
    await expect(db.admin.type(key)).resolves.toBe('hash');
    const fields = await db.admin.hgetall(key);
    expect(fields).toMatchObject({ cart: '["book"]', user: '{"name":"Ada","roles":["admin"]}', theme: '"dark"' });
    const own = Object.keys(fields).filter((field) => !field.startsWith(':'));
    expect(own.sort()).toEqual(['cart', 'theme', 'user']);
    expect(Number(fields[':c'])).toBeGreaterThan(Date.now() - 60_000);
  });

  it('writes only the changed field, and deletes only the removed one, on a save after a load', async () => {
    const store = makeStore();
    const sid = newSid();
    await store.set(sid, freshSession(store, sid, { cart: ['book'], user: { name: 'Ada' }, theme: 'dark' }, { maxAge: 60_000 }));
    const key = sessionRedisKey(db.prefix, sid);
    const recorder = await CommandRecorder.start(db.url, { keyPrefix: db.prefix });
    try {
      const session = await loadSession(store, sid);
      session.theme = 'light';
      recorder.reset();
      await saveSession(session);
      const [changed, ...others] = savesOf(await recorder.settle(), key);
      expect(others).toEqual([]);
      expect(changed).toMatchObject({ mode: 'patch', set: ['theme', '"light"'], del: [] });

      const again = await loadSession(store, sid);
      delete again.cart;
      recorder.reset();
      await saveSession(again);
      const [removed] = savesOf(await recorder.settle(), key);
      expect(removed).toMatchObject({ set: [], del: ['cart'] });
    } finally {
      await recorder.stop();
    }
    const fields = await db.admin.hgetall(key);
    expect(fields).toMatchObject({ theme: '"light"', user: '{"name":"Ada"}' });
    expect(fields).not.toHaveProperty('cart');
  });

  it('saves a session with thousands of top-level keys, as long as it is within maxSessionBytes', async () => {
    const store = makeStore();
    const sid = newSid();
    const data = Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`k${i}`, i]));
    await store.set(sid, freshSession(store, sid, data));
    await expect(db.admin.hlen(sessionRedisKey(db.prefix, sid))).resolves.toBeGreaterThanOrEqual(5_000);
    const session = await loadSession(store, sid);
    for (let i = 0; i < 5_000; i += 2) delete session[`k${i}`];
    await saveSession(session);
    await expect(store.get(sid)).resolves.toMatchObject({ k1: 1, k4999: 4999 });
    await expect(db.admin.hexists(sessionRedisKey(db.prefix, sid), 'k0')).resolves.toBe(0);
  });

  it('keeps both changes when two copies loaded from one ID change different keys and save in parallel', async () => {
    const store = makeStore();
    const sid = newSid();
    await store.set(sid, freshSession(store, sid, { cart: [], theme: 'dark' }));
    const first = await loadSession(store, sid);
    const second = await loadSession(store, sid);
    first.cart = ['book'];
    second.theme = 'light';
    await Promise.all([saveSession(first), saveSession(second)]);
    await expect(store.get(sid)).resolves.toMatchObject({ cart: ['book'], theme: 'light' });
  });
});

describe('key names', () => {
  it('names the key prefix + the first 32 base64url characters of the SHA-256 of the ID', async () => {
    const store = makeStore();
    const sid = newSid();
    const digest = createHash('sha256').update(sid).digest('base64url').slice(0, 32);
    expect(digest).toMatch(/^[A-Za-z0-9_-]{32}$/);
    await store.set(sid, freshSession(store, sid, { user: 'ada' }));
    await expect(db.admin.keys(`${db.prefix}*`)).resolves.toEqual([db.prefix + digest]);
    expect(sessionRedisKey(db.prefix, sid)).toBe(db.prefix + digest);
  });

  it('never lets the raw session ID reach Redis: not in keys, values, nor any command MONITOR sees', async () => {
    const store = makeStore();
    const sid = newSid();
    const seen: string[][] = [];
    const monitor = await openMonitor(db.url, (_time, args) => seen.push(args));
    try {
      await store.set(sid, freshSession(store, sid, { user: 'ada', note: 'hello' }, { maxAge: 60_000 }));
      const session = await loadSession(store, sid);
      session.note = 'changed';
      await saveSession(session);
      await store.touch(sid, session);
      await store.all();
      await store.ids();
      const key = sessionRedisKey(db.prefix, sid);
      const values = Object.entries(await db.admin.hgetall(key)).flat();
      expect(values.length).toBeGreaterThan(0);
      await store.destroy(sid);

      expect(await db.admin.keys('*')).not.toContainEqual(expect.stringContaining(sid));
      expect(values.filter((value) => value.includes(sid))).toEqual([]);
      // MONITOR delivers asynchronously: wait until it has shown the DEL of the destroy.
      await waitFor(() => seen.some((args) => args[0].toUpperCase() === 'DEL' && args[1] === key));
      expect(seen.length).toBeGreaterThan(5);
      expect(seen.filter((args) => args.some((arg) => arg.includes(sid)))).toEqual([]);
    } finally {
      monitor.disconnect();
    }
  });
});

describe('expiry in ms, the key TTL being its only record', () => {
  it('expires the key exactly at cookie.expires and reads that instant back to the millisecond', async () => {
    const store = makeStore();
    const sid = newSid();
    const expiresAt = Date.now() + 60_000 + 123;
    await store.set(sid, freshSession(store, sid, { n: 1 }, { expires: new Date(expiresAt) }));
    await expect(db.admin.call('PEXPIRETIME', sessionRedisKey(db.prefix, sid))).resolves.toBe(expiresAt);
    const read = await store.get(sid);
    expect(read?.cookie.expires).toBeInstanceOf(Date);
    expect(new Date(read!.cookie.expires!).getTime()).toBe(expiresAt);
    // The expiry field repeats the TTL exactly (a read decides on it without a script); no other field does.
    const fields = await db.admin.hgetall(sessionRedisKey(db.prefix, sid));
    expect(fields[':e']).toBe(String(expiresAt));
    const { ':e': _expiry, ...others } = fields;
    expect(Object.values(others)).not.toContainEqual(expect.stringContaining(String(expiresAt)));
  });

  it('gives a browser-session cookie (no expires) the idle timeout, and the session is gone after it', async () => {
    const store = makeStore({ idleTimeout: 300 });
    const sid = newSid();
    const before = Date.now();
    await store.set(sid, freshSession(store, sid, { n: 1 }));
    const after = Date.now();
    const expireTime = Number(await db.admin.call('PEXPIRETIME', sessionRedisKey(db.prefix, sid)));
    expect(expireTime).toBeGreaterThanOrEqual(before + 300);
    expect(expireTime).toBeLessThanOrEqual(after + 300);
    const read = await store.get(sid);
    expect(read?.cookie.expires ?? null).toBeNull();
    // The read slid the expiry when it came more than touchAfter (30 ms, a tenth of the window) after
    // the save, as a stall of a loaded run makes it: the session lives an idle timeout past its last
    // use, so wait for that slide (as the end of a request does) and sleep past the expiry Redis holds then.
    await store.touch(sid, read!);
    const lastExpireTime = Number(await db.admin.call('PEXPIRETIME', sessionRedisKey(db.prefix, sid)));
    expect(lastExpireTime).toBeGreaterThanOrEqual(expireTime);
    expect(lastExpireTime).toBeLessThanOrEqual(Date.now() + 300);

    await sleepUntilAfter(lastExpireTime);
    await expect(store.get(sid)).resolves.toBeNull();
  });

  it('deletes rather than writes a session whose expiry is already past', async () => {
    const store = makeStore();
    const fresh = newSid();
    await store.set(fresh, freshSession(store, fresh, { n: 1 }, { expires: new Date(Date.now() - 1) }));
    await expect(db.admin.exists(sessionRedisKey(db.prefix, fresh))).resolves.toBe(0);

    const stored = newSid();
    await store.set(stored, freshSession(store, stored, { n: 1 }, { maxAge: 60_000 }));
    const session = await loadSession(store, stored);
    session.n = 2;
    session.cookie.expires = new Date(Date.now() - 1);
    await saveSession(session);
    await expect(db.admin.exists(sessionRedisKey(db.prefix, stored))).resolves.toBe(0);
  });

  describe('absoluteTimeout caps every TTL', () => {
    const absoluteTimeout = 10_000;
    // The idle timeout may not exceed the absolute one: the longest it may be.
    const idleTimeout = absoluteTimeout;
    // How far ahead these tests put an expiry they call near: half the idle window. Near enough that
    // a slide still gains more than touchAfter (a tenth of the window); far enough that a stall of a
    // loaded run (the parallel engine matrix on two cores) cannot let the key lapse before the call
    // under test reaches Redis. With 2 s it could: the read then finds nothing, or the slide 'gone',
    // and PEXPIRETIME answers -2.
    const nearExpiry = (window: number) => Date.now() + window / 2;

    async function createdAtOf(store: RedisSessionStore, sid: string): Promise<number> {
      return Number(await db.admin.hget(sessionRedisKey(db.prefix, sid), ':c'));
    }

    it('on set', async () => {
      const store = makeStore({ idleTimeout, absoluteTimeout });
      const sid = newSid();
      await store.set(sid, freshSession(store, sid, { n: 1 }, { expires: new Date(Date.now() + 60_000) }));
      const createdAt = await createdAtOf(store, sid);
      await expect(db.admin.call('PEXPIRETIME', sessionRedisKey(db.prefix, sid))).resolves.toBe(createdAt + absoluteTimeout);
    });

    it('on touch', async () => {
      // touchAfter 0: a touch slides whatever it gains (by default it waits until the expiry would gain a minute).
      const store = makeStore({ idleTimeout, absoluteTimeout, touchAfter: 0 });
      const sid = newSid();
      const session = freshSession(store, sid, { n: 1 }, { expires: new Date(nearExpiry(idleTimeout)) });
      await store.set(sid, session);
      const createdAt = await createdAtOf(store, sid);
      session.cookie.expires = new Date(Date.now() + 60_000);
      await store.touch(sid, session);
      await expect(db.admin.call('PEXPIRETIME', sessionRedisKey(db.prefix, sid))).resolves.toBe(createdAt + absoluteTimeout);

      // A copy read by another process knows nothing of the creation time: Redis applies the cap.
      await db.admin.pexpireat(sessionRedisKey(db.prefix, sid), nearExpiry(idleTimeout));
      await sleepUntilAfter(createdAt + 5);
      await store.touch(sid, freshSession(store, sid, { n: 1 }, { expires: new Date(Date.now() + 60_000) }));
      await expect(db.admin.call('PEXPIRETIME', sessionRedisKey(db.prefix, sid))).resolves.toBe(createdAt + absoluteTimeout);
    });

    it('on a read', async () => {
      const store = makeStore({ idleTimeout, absoluteTimeout, cookie: { persistent: true } });
      const sid = newSid();
      await store.set(sid, freshSession(store, sid, { n: 1 }, { maxAge: idleTimeout }));
      const createdAt = await createdAtOf(store, sid);
      // As if the session had been idle for a while: its expiry is now near (and its expiry field, as every write keeps it).
      await expireAt(sid, nearExpiry(idleTimeout));
      const read = await store.get(sid);
      await store.touch(sid, read!); // what express-session calls at the end: waits for the slide the read sent
      await expect(db.admin.call('PEXPIRETIME', sessionRedisKey(db.prefix, sid))).resolves.toBe(createdAt + absoluteTimeout);
      expect(new Date(read!.cookie.expires!).getTime()).toBe(createdAt + absoluteTimeout);
    });

    it('but a read slides the expiry when below the cap', async () => {
      const store = makeStore({ idleTimeout: 60_000, cookie: { persistent: true } });
      const sid = newSid();
      await store.set(sid, freshSession(store, sid, { n: 1 }, { maxAge: 60_000 }));
      await expireAt(sid, nearExpiry(60_000)); // 30 s ahead: a slide gains 30 s, past touchAfter's 6 s
      const before = Date.now();
      const read = await store.get(sid);
      await store.touch(sid, read!);
      // Slid a full window from the read's own time, which is no earlier than `before`; the cookie says the same.
      const expiry = Number(await db.admin.call('PEXPIRETIME', sessionRedisKey(db.prefix, sid)));
      expect(expiry).toBeGreaterThanOrEqual(before + 60_000);
      expect(new Date(read!.cookie.expires!).getTime()).toBe(expiry);
    });

    it('while a read leaves a session alone until its expiry would gain touchAfter', async () => {
      const store = makeStore({ idleTimeout: 60_000, cookie: { persistent: true } }); // touchAfter: 6 s, a tenth of the window
      const sid = newSid();
      await store.set(sid, freshSession(store, sid, { n: 1 }, { maxAge: 60_000 }));
      const written = Date.now() + 60_000 - 4_000;
      await expireAt(sid, written); // a slide would gain 4 s only
      await store.touch(sid, (await store.get(sid))!);
      await expect(db.admin.call('PEXPIRETIME', sessionRedisKey(db.prefix, sid))).resolves.toBe(written);
    });

    /** Moves the key's expiry and its expiry field together, as the write scripts do. */
    async function expireAt(sid: string, at: number): Promise<void> {
      const key = sessionRedisKey(db.prefix, sid);
      await db.admin.multi().hset(key, ':e', at).pexpireat(key, at).exec();
    }
  });
});

describe('a save never brings back a session destroyed meanwhile', () => {
  it('drops the save of a copy loaded before another request destroyed the session', async () => {
    const store = makeStore();
    const sid = newSid();
    await store.set(sid, freshSession(store, sid, { user: 'ada' }, { maxAge: 60_000 }));
    const slowRequest = await loadSession(store, sid);
    await store.destroy(sid); // the logout, in another request
    slowRequest.cart = ['book'];
    await expect(saveSession(slowRequest)).resolves.toBeUndefined();
    await expect(db.admin.exists(sessionRedisKey(db.prefix, sid))).resolves.toBe(0);
    await expect(store.get(sid)).resolves.toBeNull();
  });

  it('does not bring it back with a touch either', async () => {
    const store = makeStore();
    const sid = newSid();
    await store.set(sid, freshSession(store, sid, { user: 'ada' }, { maxAge: 60_000 }));
    const slowRequest = await loadSession(store, sid);
    await store.destroy(sid);
    await store.touch(sid, slowRequest);
    await expect(db.admin.exists(sessionRedisKey(db.prefix, sid))).resolves.toBe(0);
  });
});

describe('callback and promise styles', () => {
  async function seeded(store: RedisSessionStore, count = 1): Promise<string[]> {
    const sids = Array.from({ length: count }, newSid);
    for (const sid of sids) await store.set(sid, freshSession(store, sid, { owner: sid.slice(0, 4) }, { maxAge: 60_000 }));
    return sids;
  }

  it('get', async () => {
    const store = makeStore();
    const [sid] = await seeded(store);
    const viaCb = await viaCallback((cb) => store.get(sid, cb));
    expect(viaCb.error).toBeNull();
    expect(viaCb.value).toMatchObject({ owner: sid.slice(0, 4) });
    await expect(viaCb.returned).resolves.toMatchObject({ owner: sid.slice(0, 4) });
    await expect(store.get(sid)).resolves.toMatchObject({ owner: sid.slice(0, 4) });
  });

  it('set', async () => {
    const store = makeStore();
    const [a, b] = [newSid(), newSid()];
    const viaCb = await viaCallback((cb) => store.set(a, freshSession(store, a, { n: 1 }), cb));
    expect(viaCb.error).toBeNull();
    await expect(store.set(b, freshSession(store, b, { n: 2 }))).resolves.toBeUndefined();
    await expect(db.admin.hget(sessionRedisKey(db.prefix, a), 'n')).resolves.toBe('1');
    await expect(db.admin.hget(sessionRedisKey(db.prefix, b), 'n')).resolves.toBe('2');
  });

  it('touch', async () => {
    const store = makeStore();
    const [a, b] = await seeded(store, 2);
    const later = Date.now() + 120_000;
    const session = freshSession(store, a, {}, { expires: new Date(later) });
    const viaCb = await viaCallback((cb) => store.touch(a, session, cb as () => void));
    expect(viaCb.error ?? null).toBeNull();
    await expect(store.touch(b, freshSession(store, b, {}, { expires: new Date(later + 1) }))).resolves.toBeUndefined();
    await expect(db.admin.call('PEXPIRETIME', sessionRedisKey(db.prefix, a))).resolves.toBe(later);
    await expect(db.admin.call('PEXPIRETIME', sessionRedisKey(db.prefix, b))).resolves.toBe(later + 1);
  });

  it('destroy', async () => {
    const store = makeStore();
    const [a, b] = await seeded(store, 2);
    const viaCb = await viaCallback((cb) => store.destroy(a, cb));
    expect(viaCb.error).toBeNull();
    await expect(store.destroy(b)).resolves.toBeUndefined();
    await expect(db.admin.exists(sessionRedisKey(db.prefix, a), sessionRedisKey(db.prefix, b))).resolves.toBe(0);
  });

  it('all, ids and length', async () => {
    const store = makeStore();
    const sids = await seeded(store, 3);
    const digests = sids.map((sid) => sessionRedisKey(db.prefix, sid).slice(db.prefix.length)).sort();

    const allCb = await viaCallback<Record<string, unknown>>((cb) => store.all(cb));
    expect(allCb.error).toBeNull();
    expect(Object.keys(allCb.value!).sort()).toEqual(digests);
    const all = await store.all();
    expect(Object.keys(all).sort()).toEqual(digests);
    expect(all[digests[0]]).toHaveProperty('owner');

    const idsCb = await viaCallback<string[]>((cb) => store.ids(cb));
    expect(idsCb.error).toBeNull();
    expect([...idsCb.value!].sort()).toEqual(digests);
    expect((await store.ids()).sort()).toEqual(digests);

    const lengthCb = await viaCallback<number>((cb) => store.length(cb));
    expect(lengthCb).toMatchObject({ error: null, value: 3 });
    await expect(store.length()).resolves.toBe(3);
  });

  it('all, ids and length count sessions only, not the user indexes under the prefix; clear removes both', async () => {
    const store = makeStore();
    const [sid] = await seeded(store, 1);
    await db.admin.zadd(`${db.prefix}user:ada`, Date.now(), sessionRedisKey(db.prefix, sid).slice(db.prefix.length));
    await expect(store.length()).resolves.toBe(1);
    await expect(store.ids()).resolves.toEqual([sessionRedisKey(db.prefix, sid).slice(db.prefix.length)]);
    expect(Object.keys(await store.all())).toEqual([sessionRedisKey(db.prefix, sid).slice(db.prefix.length)]);
    await store.clear();
    await expect(db.admin.keys(`${db.prefix}*`)).resolves.toEqual([]);
  });

  it('clear, which also leaves other prefixes alone', async () => {
    const other = makeStore({ prefix: `${db.prefix}other:` });
    const minePrefix = uniquePrefix('store-clear');
    const mine = makeStore({ prefix: minePrefix });
    try {
      await seeded(mine, 2);
      const [kept] = await seeded(other, 1);
      const viaCb = await viaCallback((cb) => mine.clear(cb));
      expect(viaCb.error).toBeNull();
      await expect(mine.length()).resolves.toBe(0);
      await seeded(mine, 2);
      await expect(mine.clear()).resolves.toBeUndefined();
      await expect(mine.length()).resolves.toBe(0);
      await expect(other.get(kept)).resolves.not.toBeNull();
    } finally {
      await deleteByPrefix(db.admin, minePrefix);
    }
  });

  it('errors go to the callback (the promise then resolves), or reject the promise', async () => {
    const store = makeStore({ maxSessionBytes: 10 });
    const sid = newSid();
    const viaCb = await viaCallback((cb) => store.set(sid, freshSession(store, sid, { big: 'x'.repeat(50) }), cb));
    expect(viaCb.error).toBeInstanceOf(SessionTooLargeError);
    await expect(viaCb.returned).resolves.toBeUndefined();
    await expect(store.set(sid, freshSession(store, sid, { big: 'x'.repeat(50) }))).rejects.toBeInstanceOf(SessionTooLargeError);
  });
});

describe('a value that is not valid JSON reads as an absent key, with a warning once reached', () => {
  it.each([
    ['an object', '{not json'],
    ['an array', '[1, 2'],
    ['a primitive', 'tru'],
  ])('%s: the other keys read, the key reads undefined and is reported, Redis keeps it', async (_kind, corrupt) => {
    const store = makeStore();
    const sid = newSid();
    const key = sessionRedisKey(db.prefix, sid);
    await db.admin.hset(key, ':c', Date.now(), ':k', '{"originalMaxAge":null}', 'cart', corrupt, 'user', '{"id":"u1"}', 'views', '3');
    const session = (await store.get(sid)) as unknown as Record<string, unknown>;
    expect(session).not.toBeNull();
    expect(session.user).toEqual({ id: 'u1' });
    expect(session.views).toBe(3);
    expect(session.cart).toBeUndefined();
    const warnings = logger.warn.mock.calls.map(([message]) => String(message));
    expect(warnings.filter((message) => /session key "cart".*not valid JSON/.test(message))).toHaveLength(1);
    for (const message of warnings) expect(message).not.toContain(sid);
    expect(session.cart).toBeUndefined(); // reported once, not on every read
    expect(logger.warn.mock.calls.filter(([message]) => /session key "cart"/.test(String(message)))).toHaveLength(1);
    await expect(db.admin.hget(key, 'cart')).resolves.toBe(corrupt);
  });
});

describe('values that cannot be decoded read as no session, with a warning', () => {
  async function expectNoSessionAndWarning(store: RedisSessionStore, sid: string, reason: RegExp): Promise<void> {
    const viaCb = await viaCallback((cb) => store.get(sid, cb));
    expect(viaCb.error).toBeNull();
    expect(viaCb.value ?? null).toBeNull();
    await expect(store.get(sid)).resolves.toBeNull();
    expect(logger.warn).toHaveBeenCalledWith(expect.stringMatching(reason));
    // The warning names the session by a digest excerpt, never the ID.
    for (const [message] of logger.warn.mock.calls) expect(message).not.toContain(sid);
  }

  it('a missing ":c" field', async () => {
    const store = makeStore();
    const sid = newSid();
    await db.admin.hset(sessionRedisKey(db.prefix, sid), ':k', '{"originalMaxAge":null}', 'cart', '[]');
    await expectNoSessionAndWarning(store, sid, /":c"/);
  });

  it('a cookie field that is not an object', async () => {
    const store = makeStore();
    const sid = newSid();
    await db.admin.hset(sessionRedisKey(db.prefix, sid), ':c', Date.now(), ':k', '42');
    await expectNoSessionAndWarning(store, sid, /cookie/);
  });

  it.each([
    ['a string', (key: string) => db.admin.set(key, 'a string')],
    ['a list', (key: string) => db.admin.rpush(key, 'a', 'b')],
    ['a set', (key: string) => db.admin.sadd(key, 'a')],
  ])('a key of the wrong type: %s', async (_kind, write) => {
    const store = makeStore();
    const sid = newSid();
    await write(sessionRedisKey(db.prefix, sid));
    await expectNoSessionAndWarning(store, sid, /not a hash/);
  });

  it('all() skips a corrupt session, warns, and returns the others', async () => {
    const store = makeStore();
    const [good, bad] = [newSid(), newSid()];
    await store.set(good, freshSession(store, good, { ok: true }));
    await db.admin.hset(sessionRedisKey(db.prefix, bad), ':c', Date.now(), ':k', '{}', 'cart', '{not json');
    const all = await store.all();
    expect(Object.keys(all)).toEqual([sessionRedisKey(db.prefix, good).slice(db.prefix.length)]);
    expect(logger.warn).toHaveBeenCalledWith(expect.stringMatching(/not valid JSON/));
  });
});

describe('maxSessionBytes', () => {
  // Bytes count each top-level key's name and JSON: "k" + '"' + 97 x + '"' = 100.
  const atLimit = { k: 'x'.repeat(97) };
  const overLimit = { k: 'x'.repeat(98) };

  it('accepts a session of exactly the limit', async () => {
    const store = makeStore({ maxSessionBytes: 100 });
    const sid = newSid();
    await store.set(sid, freshSession(store, sid, atLimit));
    await expect(storedField(db.admin, sessionRedisKey(db.prefix, sid), 'k')).resolves.toBe(JSON.stringify(atLimit.k));
  });

  it('rejects a larger new session with SessionTooLargeError naming bytes and limit, writing nothing', async () => {
    const store = makeStore({ maxSessionBytes: 100 });
    const sid = newSid();
    const error = await store.set(sid, freshSession(store, sid, overLimit)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionTooLargeError);
    expect(error).toMatchObject({ bytes: 101, limit: 100 });
    expect((error as Error).message).toMatch(/101 bytes.*100 bytes/);
    await expect(db.admin.exists(sessionRedisKey(db.prefix, sid))).resolves.toBe(0);
  });

  it('rejects a save that grows a stored session past the limit, leaving Redis as it was', async () => {
    const store = makeStore({ maxSessionBytes: 100 });
    const sid = newSid();
    await store.set(sid, freshSession(store, sid, { a: 1 }, { maxAge: 60_000 }));
    const before = await db.admin.hgetall(sessionRedisKey(db.prefix, sid));
    const session = await loadSession(store, sid);
    session.a = 2;
    session.blob = 'y'.repeat(200);
    await expect(saveSession(session)).rejects.toBeInstanceOf(SessionTooLargeError);
    await expect(db.admin.hgetall(sessionRedisKey(db.prefix, sid))).resolves.toEqual(before);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
