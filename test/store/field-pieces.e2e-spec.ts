import { defineScriptsOn, runScript } from '@app/session/redis/lua-script';
import { RENEW_CLAIM, RENEW_PLANT } from '@app/session/redis/renewal-scripts';
import { COMPARE_AND_SET, SAVE_SESSION } from '@app/session/redis/scripts';
import { SCRIPTS } from '@app/session/redis/gateway-calls';
import { PIECE_MARK } from '@app/session/redis/field-pieces';
import { FIELD } from '@app/session/redis/session-fields';
import { SessionKeyUpdates } from '@app/session/service/atomic-update';
import { sessionRedisKey, storedHash } from '../support/key-scheme';
import { freshSession, loadSession, newSid, recordingLogger, redisPerSpec, saveSession, storeWithCore } from './fixtures';

/*
 * A value longer than 64 bytes is held in pieces, so a session's hash stays a listpack at Redis's
 * defaults (the README's "How it works"). The app cuts them, the scripts compare, store and delete
 * them, every reader of the library joins them. `storedHash` reads the layout as the README states it, independently.
 */
const db = redisPerSpec('pieces', ({ client }) => defineScriptsOn(client, SCRIPTS));

const MINUTE = 60_000;
const NOW = Date.now() + 24 * 60 * MINUTE;
const LIMIT = 64;

/** The bench's 3-line cart: 192 bytes of JSON. */
const CART = [
  { sku: 'rooibos-tea-250g', name: 'Rooibos tea, loose leaf, 250 g', qty: 2 },
  { sku: 'teapot-glass-1l', name: 'Glass teapot, 1 litre', qty: 1 },
  { sku: 'kettle-gooseneck', name: 'Gooseneck kettle', qty: 1 },
];

/** Every field name and value as Redis holds them: at most 64 bytes each, and each valid UTF-8 on its own. */
async function expectListpackOfValidPieces(key: string): Promise<void> {
  await expect(db.admin.object('ENCODING', key)).resolves.toBe('listpack');
  const raw = await db.admin.hgetallBuffer(key);
  const strict = new TextDecoder('utf-8', { fatal: true });
  for (const [field, value] of Object.entries(raw)) {
    expect(Buffer.byteLength(field)).toBeLessThanOrEqual(LIMIT);
    expect(value.length).toBeLessThanOrEqual(LIMIT);
    expect(() => strict.decode(value)).not.toThrow();
  }
}

/** A head of `count` pieces whose first piece matches `first` (a pattern). */
function head(count: number, first: string): RegExp {
  return new RegExp(`^${PIECE_MARK}${count}:${first}`);
}

async function fieldNames(key: string): Promise<string[]> {
  return (await db.admin.hkeys(key)).sort();
}

async function storedSession(key: string, ...fields: string[]): Promise<void> {
  await db.admin.hset(key, FIELD.createdAt, String(NOW - MINUTE), FIELD.expiresAt, String(NOW + 30 * MINUTE), ...fields);
  await db.admin.pexpireat(key, NOW + 30 * MINUTE);
}

const patch = (key: string, set: string[], del: string[] = []) => ({ redisKey: key, mode: 'patch' as const, expiresAt: NOW + 30 * MINUTE, now: NOW, set, del });

describe('a save', () => {
  it("keeps the bench's session (a user and a 3-line cart) a listpack, every piece at most 64 bytes, and reads it back whole", async () => {
    const { store } = storeWithCore({ client: db.client, prefix: db.prefix, logger: recordingLogger() });
    const sid = newSid();
    const user = { id: 'u-17', name: 'Ada Lovelace', email: 'ada@example.com', roles: ['customer'] };
    await store.set(sid, freshSession(store, sid, { user, cart: CART }, { maxAge: 60_000 }));
    const key = sessionRedisKey(db.prefix, sid);
    await expectListpackOfValidPieces(key);
    const whole = await storedHash(db.admin, key);
    expect(JSON.parse(whole.cart)).toEqual(CART);
    expect(JSON.parse(whole.user)).toEqual(user);
    await expect(db.admin.hget(key, 'cart')).resolves.toMatch(head(4, '\\['));
    await expect(store.get(sid)).resolves.toMatchObject({ user, cart: CART });
  });

  it('cuts between UTF-8 characters, wherever two-, three- and four-byte ones fall', async () => {
    const key = `${db.prefix}s`;
    await storedSession(key);
    const values: string[] = [];
    for (let shift = 0; shift < 4; shift++) values.push('a'.repeat(shift) + 'é中😀'.repeat(40));
    await expect(
      runScript(
        db.client,
        SAVE_SESSION,
        patch(
          key,
          values.flatMap((value, i) => [`k${i}`, value]),
        ),
      ),
    ).resolves.toBe('written');
    await expectListpackOfValidPieces(key);
    const whole = await storedHash(db.admin, key);
    values.forEach((value, i) => expect(whole[`k${i}`]).toBe(value));
  });

  it('writes a value of ten pieces or more with a count of two digits, its head within 64 bytes', async () => {
    const key = `${db.prefix}s`;
    await storedSession(key);
    const long = 'x'.repeat(700);
    await runScript(db.client, SAVE_SESSION, patch(key, ['long', long]));
    await expectListpackOfValidPieces(key);
    await expect(db.admin.hget(key, 'long')).resolves.toMatch(head(11, 'x{60}$'));
    await expect(storedHash(db.admin, key)).resolves.toMatchObject({ long });
  });

  it('stores a short value that starts with the mark as a head, so it never reads as one', async () => {
    const key = `${db.prefix}s`;
    await storedSession(key);
    await runScript(db.client, SAVE_SESSION, patch(key, ['odd', '\x1f3:abc']));
    await expect(db.admin.hget(key, 'odd')).resolves.toBe('\x1f1:\x1f3:abc');
    await expect(storedHash(db.admin, key)).resolves.toMatchObject({ odd: '\x1f3:abc' });
  });

  it('drops the pieces a shorter value or a deletion leaves behind, and no others', async () => {
    const key = `${db.prefix}s`;
    await storedSession(key);
    await runScript(db.client, SAVE_SESSION, patch(key, ['a', 'x'.repeat(300), 'b', 'y'.repeat(200)]));
    const longNames = await fieldNames(key);
    expect(longNames.filter((field) => field.endsWith(':a'))).toHaveLength(4);
    await runScript(db.client, SAVE_SESSION, patch(key, ['a', 'x'.repeat(100)], ['b']));
    expect(await fieldNames(key)).toEqual([':1:a', ':c', ':e', 'a'].sort());
    await runScript(db.client, SAVE_SESSION, patch(key, ['a', 'short']));
    expect(await fieldNames(key)).toEqual([':c', ':e', 'a']);
    await expect(storedHash(db.admin, key)).resolves.toMatchObject({ a: 'short' });
  });

  it('a replace keeps no piece of the values it replaces', async () => {
    const key = `${db.prefix}s`;
    await storedSession(key, 'a', 'z'.repeat(200));
    await runScript(db.client, SAVE_SESSION, { ...patch(key, [FIELD.createdAt, String(NOW), 'b', '1']), mode: 'replace' });
    expect(await fieldNames(key)).toEqual([':c', ':e', 'b']);
  });
});

describe('a compare-and-set', () => {
  const update = (key: string, expected: string | undefined, next: string | undefined) => ({
    redisKey: key,
    field: 'cart',
    expected,
    next,
    expiresAt: NOW + 30 * MINUTE,
    now: NOW,
    minGain: MINUTE,
  });

  it('compares a long value piece by piece and writes the new one in pieces, dropping what it no longer needs', async () => {
    const key = `${db.prefix}s`;
    await storedSession(key);
    const first = 'a'.repeat(250);
    await runScript(db.client, SAVE_SESSION, patch(key, ['cart', first]));
    await expect(runScript(db.client, COMPARE_AND_SET, update(key, first, 'b'.repeat(130)))).resolves.toEqual({ status: 'written' });
    await expectListpackOfValidPieces(key);
    expect(await fieldNames(key)).toEqual([':1:cart', ':2:cart', ':c', ':e', 'cart'].sort());
    await expect(runScript(db.client, COMPARE_AND_SET, update(key, 'b'.repeat(130), undefined))).resolves.toEqual({ status: 'written' });
    expect(await fieldNames(key)).toEqual([':c', ':e']);
  });

  it('sends only the pieces that differ, and the value reads back whole (its end changed, then its length)', async () => {
    const key = `${db.prefix}s`;
    await storedSession(key);
    const first = JSON.stringify(CART);
    await runScript(db.client, SAVE_SESSION, patch(key, ['cart', first]));
    const endChanged = first.replace('"qty":1}]', '"qty":2}]');
    await expect(runScript(db.client, COMPARE_AND_SET, update(key, first, endChanged))).resolves.toEqual({ status: 'written' });
    await expect(storedHash(db.admin, key)).resolves.toMatchObject({ cart: endChanged });
    const shorter = endChanged.replace('Rooibos tea, loose leaf, 250 g', 'Rooibos');
    await expect(runScript(db.client, COMPARE_AND_SET, update(key, endChanged, shorter))).resolves.toEqual({ status: 'written' });
    await expect(storedHash(db.admin, key)).resolves.toMatchObject({ cart: shorter });
    await expectListpackOfValidPieces(key);
  });

  it('answers changed with the whole value Redis holds when a piece differs, or the piece count', async () => {
    const key = `${db.prefix}s`;
    await storedSession(key);
    const held = 'a'.repeat(100) + 'B' + 'a'.repeat(100);
    await runScript(db.client, SAVE_SESSION, patch(key, ['cart', held]));
    // Same count, a later piece differs.
    await expect(runScript(db.client, COMPARE_AND_SET, update(key, 'a'.repeat(201), 'new'))).resolves.toEqual({ status: 'changed', current: held });
    // Another count: its pieces are read apart.
    await expect(runScript(db.client, COMPARE_AND_SET, update(key, 'a'.repeat(90), 'new'))).resolves.toEqual({ status: 'changed', current: held });
    await expect(runScript(db.client, COMPARE_AND_SET, update(key, 'a'.repeat(400), 'new'))).resolves.toEqual({ status: 'changed', current: held });
    await expect(runScript(db.client, COMPARE_AND_SET, update(key, undefined, 'new'))).resolves.toEqual({ status: 'changed', current: held });
    await expect(storedHash(db.admin, key)).resolves.toMatchObject({ cart: held });
  });

  it('takes a long value an older version wrote whole as the value, and replaces it with pieces', async () => {
    const key = `${db.prefix}s`;
    const whole = JSON.stringify(CART);
    await storedSession(key, 'cart', whole);
    await expect(runScript(db.client, COMPARE_AND_SET, update(key, whole, JSON.stringify(CART.slice(1))))).resolves.toEqual({ status: 'written' });
    // Redis never turns a hashtable back into a listpack: such a session saves memory once written anew (a login, a new session).
    await expect(db.admin.hget(key, 'cart')).resolves.toMatch(head(3, ''));
    await expect(storedHash(db.admin, key)).resolves.toMatchObject({ cart: JSON.stringify(CART.slice(1)) });
  });

  it("keeps every one of many queued updates of a long value (SessionService.update's path)", async () => {
    const { store, core } = storeWithCore({ client: db.client, prefix: db.prefix, logger: recordingLogger() });
    const sid = newSid();
    await store.set(sid, freshSession(store, sid, { cart: CART }, { maxAge: 60_000 }));
    const [mine, theirs] = [await loadSession(store, sid), await loadSession(store, sid)];
    const add = (sku: string) => (cart: typeof CART | undefined) => [...(cart ?? []), { sku, name: `item ${sku}`, qty: 1 }];
    const updates = new SessionKeyUpdates(core, 10);
    // Two "replicas" (two update queues) adding at once: every addition is kept, through the pieces' compare.
    await Promise.all([
      ...['a', 'b', 'c'].map((sku) => updates.update(sid, mine, 'cart', add(sku))),
      ...['d', 'e', 'f'].map((sku) => new SessionKeyUpdates(core, 10).update(sid, theirs, 'cart', add(sku))),
    ]);
    const cart = JSON.parse((await storedHash(db.admin, sessionRedisKey(db.prefix, sid))).cart) as typeof CART;
    expect(cart.map((line) => line.sku).sort()).toEqual([...CART.map((line) => line.sku), 'a', 'b', 'c', 'd', 'e', 'f'].sort());
    await expectListpackOfValidPieces(sessionRedisKey(db.prefix, sid));
  });
});

describe('the hashMaxListpackValue option', () => {
  const user = { id: 'u-17', name: 'Ada Lovelace', email: 'ada@example.com', roles: ['customer'] };

  it('0 stores every value whole; a replica with the default reads it, and the other way round', async () => {
    const whole = storeWithCore({ client: db.client, prefix: db.prefix, logger: recordingLogger(), hashMaxListpackValue: 0 }).store;
    const pieces = storeWithCore({ client: db.client, prefix: db.prefix, logger: recordingLogger() }).store;
    const [a, b] = [newSid(), newSid()];
    await whole.set(a, freshSession(whole, a, { user, cart: CART }, { maxAge: 60_000 }));
    await expect(db.admin.hget(sessionRedisKey(db.prefix, a), 'cart')).resolves.toBe(JSON.stringify(CART));
    await expect(db.admin.object('ENCODING', sessionRedisKey(db.prefix, a))).resolves.toBe('hashtable');
    await expect(pieces.get(a)).resolves.toMatchObject({ user, cart: CART });

    await pieces.set(b, freshSession(pieces, b, { user, cart: CART }, { maxAge: 60_000 }));
    const session = await loadSession(whole, b);
    expect(session).toMatchObject({ user, cart: CART });
    session.cart = CART.slice(1);
    await saveSession(session);
    await expect(storedHash(db.admin, sessionRedisKey(db.prefix, b))).resolves.toMatchObject({ cart: JSON.stringify(CART.slice(1)) });
    // Written whole over its pieces: none of them is left behind.
    expect((await fieldNames(sessionRedisKey(db.prefix, b))).filter((field) => field.endsWith(':cart'))).toEqual([]);
  });

  it('an update from a replica with another setting matches the value held in the other form, first time', async () => {
    const sid = newSid();
    const writer = storeWithCore({ client: db.client, prefix: db.prefix, logger: recordingLogger() }).store;
    await writer.set(sid, freshSession(writer, sid, { cart: CART }, { maxAge: 60_000 }));
    for (const hashMaxListpackValue of [0, 100, 64]) {
      const { store, core } = storeWithCore({ client: db.client, prefix: db.prefix, logger: recordingLogger(), hashMaxListpackValue });
      const change = jest.fn((cart: typeof CART | undefined) => [...(cart ?? []), { sku: `s-${hashMaxListpackValue}`, name: 'x'.repeat(40), qty: 1 }]);
      await new SessionKeyUpdates(core, 0).update(sid, await loadSession(store, sid), 'cart', change);
      expect(change).toHaveBeenCalledTimes(1); // no conflict: 0 retries allowed
    }
    const cart = JSON.parse((await storedHash(db.admin, sessionRedisKey(db.prefix, sid))).cart) as typeof CART;
    expect(cart.map((line) => line.sku)).toEqual([...CART.map((line) => line.sku), 's-0', 's-100', 's-64']);
    await expect(writer.get(sid)).resolves.toMatchObject({ cart });
  });

  it("set to the server's hash-max-listpack-value, keeps a session of longer values whole and compact", async () => {
    await db.admin.config('SET', 'hash-max-listpack-value', '512');
    try {
      const { store } = storeWithCore({ client: db.client, prefix: db.prefix, logger: recordingLogger(), hashMaxListpackValue: 512 });
      const sid = newSid();
      await store.set(sid, freshSession(store, sid, { user, cart: CART }, { maxAge: 60_000 }));
      const key = sessionRedisKey(db.prefix, sid);
      await expect(db.admin.object('ENCODING', key)).resolves.toBe('listpack');
      await expect(db.admin.hget(key, 'cart')).resolves.toBe(JSON.stringify(CART));
      await expect(store.get(sid)).resolves.toMatchObject({ user, cart: CART });
    } finally {
      await db.admin.config('SET', 'hash-max-listpack-value', '64');
    }
  });
});

describe('what reads a hash', () => {
  it('reads a head whose piece is missing as a corrupt value: that key absent and logged, the others kept', async () => {
    const logger = recordingLogger();
    const { store } = storeWithCore({ client: db.client, prefix: db.prefix, logger });
    const sid = newSid();
    await store.set(sid, freshSession(store, sid, { cart: CART, theme: 'dark' }, { maxAge: 60_000 }));
    await db.admin.hdel(sessionRedisKey(db.prefix, sid), ':2:cart');
    const session = await loadSession(store, sid);
    expect(session.cart).toBeUndefined();
    expect(session.theme).toBe('dark');
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn.mock.calls[0][0]).toMatch(/"cart"/);
  });

  it("reads one field whole (an update's read after a renewal)", async () => {
    const { store, core } = storeWithCore({ client: db.client, prefix: db.prefix, logger: recordingLogger() });
    const sid = newSid();
    await store.set(sid, freshSession(store, sid, { cart: CART }, { maxAge: 60_000 }));
    await expect(core.gateway.readField(sessionRedisKey(db.prefix, sid), 'cart')).resolves.toBe(JSON.stringify(CART));
    await expect(core.gateway.readField(sessionRedisKey(db.prefix, sid), 'none')).resolves.toBeUndefined();
  });

  it("a renewal's claim answers the fields whole, and its plant writes them in pieces", async () => {
    const key = `${db.prefix}old`;
    const cart = JSON.stringify(CART);
    await storedSession(key);
    await runScript(db.client, SAVE_SESSION, patch(key, ['cart', cart, 'theme', '"dark"']));
    const claim = await runScript(db.client, RENEW_CLAIM, { redisKey: key, sealedSuccessor: 'sealed-a' });
    expect(claim).toMatchObject({ status: 'claimed', fields: { cart, theme: '"dark"' } });
    const fields = claim.status === 'gone' ? {} : claim.fields;
    expect(Object.keys(fields).some((field) => field.startsWith(':1:'))).toBe(false);

    const successor = `${db.prefix}new`;
    const planted = Object.entries(fields).filter(([field]) => field !== FIELD.expiresAt);
    await expect(runScript(db.client, RENEW_PLANT, { redisKey: successor, expiresAt: NOW + MINUTE, now: NOW, fields: planted.flat() })).resolves.toBe(
      'planted',
    );
    await expectListpackOfValidPieces(successor);
    await expect(storedHash(db.admin, successor)).resolves.toMatchObject({ cart, theme: '"dark"' });
  });

  it('a save after a load writes back only the key it changed, the long values untouched', async () => {
    const { store } = storeWithCore({ client: db.client, prefix: db.prefix, logger: recordingLogger() });
    const sid = newSid();
    await store.set(sid, freshSession(store, sid, { cart: CART, theme: 'dark' }, { maxAge: 60_000 }));
    const key = sessionRedisKey(db.prefix, sid);
    const before = await db.admin.hgetall(key);
    const session = await loadSession(store, sid);
    session.theme = 'light';
    await saveSession(session);
    const after = await db.admin.hgetall(key);
    expect({ ...after, theme: before.theme }).toEqual(before);
    expect(after.theme).toBe('"light"');
  });
});
