import { randomBytes } from 'node:crypto';
import { RedisSessionStore, SessionConfigError, type RedisSessionStoreOptions } from '@app/session';
import { CommandRecorder } from '../support/command-recorder';
import { isSave, saveOf } from '../support/save-args';
import { openMonitor } from '../support/monitor';
import { freshSession, loadSession, newSid, recordingLogger, redisPerSpec, saveSession } from './fixtures';
import { sessionRedisKey, storedField, storedHash } from '../support/key-scheme';

/**
 * The `encryption` option at the store: what Redis holds, what a save writes, and a value that does
 * not open: written before encryption or under a key the options lack, the session is absent; copied
 * or tampered with, found only by opening it, its key reads as absent once reached. Logged once.
 */
const db = redisPerSpec('sealed');
let logger: ReturnType<typeof recordingLogger>;

const KEY = randomBytes(32);
const CSRF_TOKEN = randomBytes(32).toString('base64url');
const DATA = { cart: [{ sku: 'rooibos-tea', qty: 2 }], user: { id: 'u-17', name: 'Ada Lovelace' }, csrfToken: CSRF_TOKEN };

beforeEach(() => {
  logger = recordingLogger();
});

function makeStore(options: Partial<RedisSessionStoreOptions> = {}): RedisSessionStore {
  return new RedisSessionStore({ client: db.client, prefix: db.prefix, logger, encryption: { keys: [KEY] }, ...options });
}

/** A session saved with DATA; its ID and Redis key. */
async function savedSession(store: RedisSessionStore): Promise<{ sid: string; key: string }> {
  const sid = newSid();
  await store.set(sid, freshSession(store, sid, DATA));
  return { sid, key: sessionRedisKey(db.prefix, sid) };
}

describe('what Redis holds', () => {
  it('holds no plaintext of a data value in the hash, nor in any command MONITOR sees', async () => {
    const store = makeStore();
    const seen: string[][] = [];
    const monitor = await openMonitor(db.url, (_time, args) => seen.push(args));
    try {
      const { sid, key } = await savedSession(store);
      const session = await loadSession(store, sid);
      session.cart = [...session.cart, { sku: 'teapot', qty: 1 }];
      await saveSession(session);
      await expect(store.get(sid)).resolves.toMatchObject({ cart: [{ sku: 'rooibos-tea' }, { sku: 'teapot' }], user: { name: 'Ada Lovelace' } });

      const held = await storedHash(db.admin, key);
      expect(Object.keys(held).sort()).toEqual([':c', ':e', ':k', 'cart', 'csrfToken', 'user']);
      for (const field of ['cart', 'csrfToken', 'user']) expect(held[field]).toMatch(/^~[A-Za-z0-9_-]+$/);
      const everything = JSON.stringify([held, seen]);
      for (const secret of ['rooibos', 'teapot', 'Ada Lovelace', 'u-17', CSRF_TOKEN]) expect(everything).not.toContain(secret);
      expect(seen.length).toBeGreaterThan(0);
    } finally {
      monitor.disconnect();
    }
  });

  it('writes only the changed field on a save after a load, though every seal of the others would differ', async () => {
    const store = makeStore();
    const { sid, key } = await savedSession(store);
    const before = await storedHash(db.admin, key);
    const recorder = await CommandRecorder.start(db.url, { keyPrefix: db.prefix });
    try {
      const session = await loadSession(store, sid);
      session.theme = 'dark';
      recorder.reset();
      await saveSession(session);
      const saves = (await recorder.settle()).filter(isSave).map(saveOf);
      expect(saves).toHaveLength(1);
      expect(saves[0].mode).toBe('patch');
      expect(saves[0].set.filter((_, i) => i % 2 === 0)).toEqual(['theme']); // the field only: its value is sealed

      // Unchanged, and no slide due (touchAfter): the save writes nothing at all.
      const unchanged = await loadSession(store, sid);
      recorder.reset();
      await saveSession(unchanged);
      expect((await recorder.settle()).filter(({ name }) => name.startsWith('EVAL'))).toEqual([]);
    } finally {
      await recorder.stop();
    }
    const after = await storedHash(db.admin, key);
    expect({ cart: after.cart, user: after.user }).toEqual({ cart: before.cart, user: before.user });
  });
});

describe('a value that does not open: its key reads as absent once reached, or the session is absent when it shows without opening; logged once', () => {
  it('reads a value copied from another session as absent when reached, keeps the rest, and logs it once however often it is read', async () => {
    const store = makeStore();
    const victim = await savedSession(store);
    const attacker = await savedSession(store);
    // Copied whole (a long value is held in pieces; one written whole reads as it is).
    const sealedUser = (await storedField(db.admin, victim.key, 'user'))!;
    await db.admin.hset(attacker.key, 'user', sealedUser);

    for (let i = 0; i < 3; i++) {
      const session = await store.get(attacker.sid);
      expect(session!.user).toBeUndefined();
      expect(session).toMatchObject({ cart: DATA.cart, csrfToken: CSRF_TOKEN });
    }
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn.mock.calls[0][0]).toMatch(/key "user" .*: field "user" does not authenticate .*option "encryption".*reads as absent/);
    await expect(storedField(db.admin, attacker.key, 'user')).resolves.toBe(sealedUser); // kept until the key is assigned
    await expect(store.get(victim.sid)).resolves.toMatchObject({ user: { name: 'Ada Lovelace' } });
  });

  it('reads a value copied to another field of the same session as absent', async () => {
    const store = makeStore();
    const { sid, key } = await savedSession(store);
    await db.admin.hset(key, 'cart', (await storedField(db.admin, key, 'user'))!);
    const session = await store.get(sid);
    expect(session!.cart).toBeUndefined();
    expect(session!.user).toEqual(DATA.user);
    expect(logger.warn).toHaveBeenCalledTimes(1);
  });

  it('reads a tampered value as absent', async () => {
    const store = makeStore();
    const { sid, key } = await savedSession(store);
    const sealed = (await storedField(db.admin, key, 'cart'))!;
    // A character in the middle: each of its six bits counts (the last one may carry padding bits).
    const at = Math.floor(sealed.length / 2);
    await db.admin.hset(key, 'cart', sealed.slice(0, at) + (sealed[at] === 'A' ? 'B' : 'A') + sealed.slice(at + 1));
    const session = await store.get(sid);
    expect(session!.cart).toBeUndefined();
    expect(session!.user).toEqual(DATA.user);
    expect(logger.warn.mock.calls[0][0]).toMatch(/does not authenticate/);
  });

  it('reads a session written before encryption as no session, unless acceptPlaintext opens the migration window', async () => {
    const plain = new RedisSessionStore({ client: db.client, prefix: db.prefix, logger });
    const { sid } = await savedSession(plain);
    await expect(makeStore().get(sid)).resolves.toBeNull();
    expect(logger.warn.mock.calls[0][0]).toMatch(/is not sealed/);
    await expect(makeStore({ encryption: { keys: [KEY], acceptPlaintext: true } }).get(sid)).resolves.toMatchObject({ user: { name: 'Ada Lovelace' } });
  });

  it('reads a session sealed under a key it does not have as no session', async () => {
    const { sid } = await savedSession(makeStore({ encryption: { keys: [randomBytes(32)] } }));
    await expect(makeStore().get(sid)).resolves.toBeNull();
    expect(logger.warn.mock.calls[0][0]).toMatch(/sealed with a key not in "encryption.keys"/);
  });
});

describe('boot', () => {
  it('refuses a key shorter than 32 bytes, naming it', () => {
    expect(() => makeStore({ encryption: { keys: [KEY, randomBytes(16).toString('base64')] } })).toThrow(SessionConfigError);
    expect(() => makeStore({ encryption: { keys: [KEY, randomBytes(16)] } })).toThrow(/"encryption.keys\[1\]" must hold at least 32 bytes/);
  });
});
