import Redis from 'ioredis';
import { RedisSessionStore, SessionConflictError, SessionDataError, SessionTooLargeError } from '@app/session';
import { SessionKeyUpdates } from '@app/session/service/atomic-update';
import { deleteByPrefix, uniquePrefix } from '../support/prefix';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { freshSession, loadSession, newSid, recordingLogger, saveSession, storeWithCore } from './fixtures';
import type { SessionCore } from '@app/session/store/session-core';
import { sessionRedisKey } from '../support/key-scheme';

/** Compare-and-set updates of one session key, against a real Redis and several store instances. */
let redis: RedisServerHandle;
let admin: Redis;
const clients: Redis[] = [];
let prefix: string;

beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
});
afterAll(async () => {
  await Promise.all(clients.map((client) => client.quit()));
  await admin?.quit();
  await redis?.stop();
});
beforeEach(() => {
  prefix = uniquePrefix('cas');
});
afterEach(() => deleteByPrefix(admin, prefix));

/** Each store's persistence core, as `SessionModule` shares one between its store and its service. */
const cores = new Map<RedisSessionStore, SessionCore>();
afterEach(() => cores.clear());

/** A store on its own connection, as in a separate replica. */
function replica(options: { maxSessionBytes?: number } = {}): RedisSessionStore {
  const client = new Redis(redis.url);
  clients.push(client);
  const { store, core } = storeWithCore({ client, prefix, logger: recordingLogger(), ...options });
  cores.set(store, core);
  return store;
}

const coreOf = (store: RedisSessionStore) => cores.get(store)!;

/** One update through its own `SessionKeyUpdates`, as one request alone on its replica makes it. */
function updateSessionKey<T>(
  core: SessionCore,
  sid: string,
  session: Record<string, unknown>,
  key: string,
  change: (current: T | undefined) => T | Promise<T>,
  retries: number,
): Promise<T> {
  return new SessionKeyUpdates(core, retries).update(sid, session, key, change);
}

type Cart = string[];
const RETRIES = 3;

async function stored(store: RedisSessionStore, data: Record<string, unknown>): Promise<string> {
  const sid = newSid();
  await store.set(sid, freshSession(store, sid, data, { maxAge: 60_000 }));
  return sid;
}

it('writes the change when the key is unchanged since the read, and reflects it on the session object', async () => {
  const store = replica();
  const sid = await stored(store, { cart: ['a'], theme: 'dark' });
  const session = await loadSession(store, sid);
  const change = jest.fn((cart: Cart | undefined) => [...(cart ?? []), 'b']);

  await expect(updateSessionKey(coreOf(store), sid, session, 'cart', change, RETRIES)).resolves.toEqual(['a', 'b']);
  expect(change).toHaveBeenCalledTimes(1);
  expect(change).toHaveBeenCalledWith(['a']);
  expect(session.cart).toEqual(['a', 'b']);
  await expect(admin.hget(sessionRedisKey(prefix, sid), 'cart')).resolves.toBe('["a","b"]');
  await expect(admin.hget(sessionRedisKey(prefix, sid), 'theme')).resolves.toBe('"dark"');
});

it('does not overwrite a change made meanwhile: retries with the fresh value', async () => {
  const store = replica();
  const sid = await stored(store, { cart: ['a'] });
  const session = await loadSession(store, sid); // sees ['a']
  await admin.hset(sessionRedisKey(prefix, sid), 'cart', '["a","from-elsewhere"]'); // another request wrote since
  const change = jest.fn((cart: Cart | undefined) => [...(cart ?? []), 'mine']);

  await expect(updateSessionKey(coreOf(store), sid, session, 'cart', change, RETRIES)).resolves.toEqual(['a', 'from-elsewhere', 'mine']);
  expect(change.mock.calls).toEqual([[['a']], [['a', 'from-elsewhere']]]);
  await expect(admin.hget(sessionRedisKey(prefix, sid), 'cart')).resolves.toBe('["a","from-elsewhere","mine"]');
});

it('deletes the key when change returns undefined, compare-and-set too', async () => {
  const store = replica();
  const sid = await stored(store, { cart: ['a'], theme: 'dark' });
  const session = await loadSession(store, sid);
  await updateSessionKey(coreOf(store), sid, session, 'cart', () => undefined, RETRIES);
  await expect(admin.hexists(sessionRedisKey(prefix, sid), 'cart')).resolves.toBe(0);
  expect(session).not.toHaveProperty('cart');
});

it("gives up with SessionConflictError 'contention' after the retry budget when the key keeps changing", async () => {
  const store = replica();
  const sid = await stored(store, { cart: [] });
  const session = await loadSession(store, sid);
  let round = 0;
  const change = jest.fn(async (cart: Cart | undefined) => {
    // Each attempt, someone else writes the key between our read and our compare-and-set.
    await admin.hset(sessionRedisKey(prefix, sid), 'cart', JSON.stringify([`elsewhere-${++round}`]));
    return [...(cart ?? []), 'mine'];
  });

  const error = await updateSessionKey(coreOf(store), sid, session, 'cart', change, RETRIES).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(SessionConflictError);
  expect(error).toMatchObject({ reason: 'contention' });
  expect((error as Error).message).toMatch(/"cart"/);
  expect(change).toHaveBeenCalledTimes(RETRIES + 1);
  await expect(admin.hget(sessionRedisKey(prefix, sid), 'cart')).resolves.toBe(JSON.stringify([`elsewhere-${round}`]));
});

it("throws SessionConflictError 'gone' when the session was deleted, and does not recreate it", async () => {
  const store = replica();
  const sid = await stored(store, { cart: [] });
  const session = await loadSession(store, sid);
  await store.destroy(sid);
  const error = await updateSessionKey(coreOf(store), sid, session, 'cart', (cart: Cart | undefined) => [...(cart ?? []), 'x'], RETRIES).catch(
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SessionConflictError);
  expect(error).toMatchObject({ reason: 'gone' });
  await expect(admin.exists(sessionRedisKey(prefix, sid))).resolves.toBe(0);
});

it('writes a never-stored session whole', async () => {
  const store = replica();
  const sid = newSid();
  const session = freshSession(store, sid, { theme: 'dark', cart: ['a'] }, { maxAge: 60_000 });
  const change = jest.fn((cart: Cart | undefined) => [...(cart ?? []), 'b']);
  await expect(updateSessionKey(coreOf(store), sid, session, 'cart', change, RETRIES)).resolves.toEqual(['a', 'b']);
  expect(change).toHaveBeenCalledWith(['a']);
  await expect(store.get(sid)).resolves.toMatchObject({ theme: 'dark', cart: ['a', 'b'] });
  // From then on it is a stored session: the end-of-request save has nothing left to write.
  const fields = await admin.hgetall(sessionRedisKey(prefix, sid));
  await saveSession(session);
  await expect(admin.hgetall(sessionRedisKey(prefix, sid))).resolves.toEqual(fields);
});

it('refuses a change that would make the session larger than maxSessionBytes, writing nothing', async () => {
  const store = replica({ maxSessionBytes: 100 });
  const sid = await stored(store, { cart: ['a'], note: 'x'.repeat(40) });
  const session = await loadSession(store, sid);
  const before = await admin.hgetall(sessionRedisKey(prefix, sid));
  const error = await updateSessionKey(coreOf(store), sid, session, 'cart', () => ['y'.repeat(80)], RETRIES).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(SessionTooLargeError);
  expect(error).toMatchObject({ limit: 100 });
  await expect(admin.hgetall(sessionRedisKey(prefix, sid))).resolves.toEqual(before);
});

it('refuses reserved and cookie keys', async () => {
  const store = replica();
  const sid = await stored(store, { cart: [] });
  const session = await loadSession(store, sid);
  await expect(updateSessionKey(coreOf(store), sid, session, ':c', () => 1, RETRIES)).rejects.toBeInstanceOf(SessionDataError);
  await expect(updateSessionKey(coreOf(store), sid, session, 'cookie', () => 1, RETRIES)).rejects.toBeInstanceOf(SessionDataError);
});

it('keeps all 50 of 50 concurrent appends made through three store instances', async () => {
  const stores = [replica(), replica(), replica()];
  const updates = stores.map((store) => new SessionKeyUpdates(coreOf(store), 20));
  const sid = await stored(stores[0], { items: [] });

  await Promise.all(
    Array.from({ length: 50 }, async (_, i) => {
      const n = i % 3;
      const session = await loadSession(stores[n], sid); // each request reads its own copy
      await updates[n].update(sid, session, 'items', (items: number[] | undefined) => [...(items ?? []), i]);
    }),
  );

  const items = (await stores[1].get(sid))!.items as unknown as number[];
  expect([...items].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
});
