import express from 'express';
import session, { type SessionData, type Store } from 'express-session';
import Redis from 'ioredis';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { RedisSessionStore } from '@app/session';
import { deleteByPrefix, uniquePrefix } from '../support/prefix';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { newSid, recordingLogger, sleepUntilAfter } from './fixtures';

/**
 * The same assertions against express-session's MemoryStore and ours: whatever holds for the
 * reference store must hold for RedisSessionStore. Calls go through callbacks only, the one style
 * both stores share.
 */
let redis: RedisServerHandle;
let client: Redis;
const prefixes: string[] = [];

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  // Every store listens to its client's connection events, and these tests make a store per test.
  client.setMaxListeners(100);
});
afterAll(async () => {
  for (const prefix of prefixes) await deleteByPrefix(client, prefix);
  await client?.quit();
  await redis?.stop();
});

function redisStore(): Store {
  const prefix = uniquePrefix('parity');
  prefixes.push(prefix);
  return new RedisSessionStore({ client, prefix, logger: recordingLogger() });
}

type Stored = SessionData & Record<string, unknown>;

/** The store's callback API as promises. */
function calls(store: Store) {
  const call = <T>(method: (callback: (error: Error | null | undefined, value?: T) => void) => void) =>
    new Promise<T | undefined>((resolve, reject) => method((error, value) => (error ? reject(error) : resolve(value))));
  return {
    get: (sid: string) => call<Stored | null>((cb) => store.get(sid, cb)),
    set: (sid: string, data: Stored) => call<void>((cb) => store.set(sid, data, cb)),
    touch: (sid: string, data: Stored) => call<void>((cb) => store.touch!(sid, data, cb as () => void)),
    destroy: (sid: string) => call<void>((cb) => store.destroy(sid, cb)),
    length: () => call<number>((cb) => store.length!(cb)),
    all: () => call<Record<string, Stored> | Stored[] | null>((cb) => store.all!(cb as never)),
  };
}

/** A session as express-session serializes it: a plain cookie object with an expiry. */
function sessionData(data: Record<string, unknown>, expires: number | null = Date.now() + 60_000): Stored {
  const cookie = {
    originalMaxAge: expires === null ? null : expires - Date.now(),
    expires: expires === null ? null : new Date(expires),
    httpOnly: true,
    path: '/',
  };
  return { cookie, ...data };
}

const expiryOf = (data: Stored | null | undefined) => (data?.cookie?.expires ? new Date(data.cookie.expires).getTime() : null);

describe.each([
  ['MemoryStore', () => new session.MemoryStore() as Store],
  ['RedisSessionStore', redisStore],
])('%s', (_name, makeStore) => {
  let store: Store;
  let api: ReturnType<typeof calls>;
  beforeEach(() => {
    store = makeStore();
    api = calls(store);
  });

  it('round-trips nested data', async () => {
    const sid = newSid();
    const data = {
      user: { id: 7, name: 'Ada', roles: ['admin', 'ops'], prefs: { theme: { dark: true } } },
      cart: [{ sku: 'b-1', qty: 2 }],
      n: 0,
      flag: false,
      none: null,
    };
    await api.set(sid, sessionData(data));
    const read = await api.get(sid);
    expect(read).toMatchObject(data);
    expect(read?.cookie).toMatchObject({ httpOnly: true, path: '/' });
  });

  it('answers no session for an unknown ID', async () => {
    expect((await api.get(newSid())) ?? null).toBeNull();
  });

  it('destroys a session', async () => {
    const sid = newSid();
    await api.set(sid, sessionData({ n: 1 }));
    await api.destroy(sid);
    expect((await api.get(sid)) ?? null).toBeNull();
    await expect(api.destroy(sid)).resolves.toBeUndefined(); // destroying twice is fine
  });

  it('expires at the expiry it reports: cookie.expires, or the slide a read made; present before, gone just after', async () => {
    const sid = newSid();
    const window = 1_000;
    const expires = Date.now() + window;
    await api.set(sid, sessionData({ n: 1 }, expires));
    const before = await api.get(sid);
    const readAt = Date.now();
    expect(readAt).toBeLessThan(expires);
    // MemoryStore keeps cookie.expires. The Redis store slides an idle session on a read once the slide
    // gains enough (touchAfter, a minute, scaled to this 1 s cookie against the 30 min idle timeout:
    // 33 ms), so on a slow machine the read itself may have moved it, to the read's time plus the window.
    const reported = expiryOf(before)!;
    expect(reported).toBeGreaterThanOrEqual(expires);
    expect(reported).toBeLessThanOrEqual(readAt + window);
    await sleepUntilAfter(reported + 1);
    expect((await api.get(sid)) ?? null).toBeNull();
  });

  it('shows the later expiry after touch, without going through set', async () => {
    const sid = newSid();
    const data = sessionData({ n: 1 }, Date.now() + 60_000);
    await api.set(sid, data);
    const later = Date.now() + 120_000;
    const set = jest.spyOn(store, 'set');
    await api.touch(sid, sessionData({ n: 1 }, later));
    expect(set).not.toHaveBeenCalled();
    expect(expiryOf(await api.get(sid))).toBe(later);
  });

  it('stores the same session object under a second ID (copying a session to a new ID)', async () => {
    const [first, second] = [newSid(), newSid()];
    const data = sessionData({ cart: ['book'] });
    await api.set(first, data);
    await api.set(second, data);
    await expect(api.get(second)).resolves.toMatchObject({ cart: ['book'] });
    await api.destroy(first);
    await expect(api.get(second)).resolves.toMatchObject({ cart: ['book'] });
  });

  it('counts sessions in length and all', async () => {
    await expect(api.length()).resolves.toBe(0);
    const sids = [newSid(), newSid(), newSid()];
    for (const [i, sid] of sids.entries()) await api.set(sid, sessionData({ i }));
    await expect(api.length()).resolves.toBe(3);
    const all = await api.all();
    const values = Object.values<Stored>(all ?? {});
    expect(values.map((value) => value.i).sort()).toEqual([0, 1, 2]);
    await api.destroy(sids[0]);
    await expect(api.length()).resolves.toBe(2);
  });

  describe('behind a real express app', () => {
    let server: Server;
    let base: string;

    beforeEach(async () => {
      const app = express();
      app.use(session({ store, secret: 'parity-secret-parity-secret-0123', resave: false, saveUninitialized: false }));
      app.get('/count', (req, res) => {
        const data = req.session as unknown as { count?: number };
        data.count = (data.count ?? 0) + 1;
        res.json({ count: data.count });
      });
      app.get('/peek', (req, res) => res.json({ count: (req.session as unknown as { count?: number }).count ?? null }));
      server = await new Promise<Server>((resolve) => {
        const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
      });
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterEach(() => new Promise<void>((resolve) => server.close(() => resolve())));

    async function get(path: string, cookie?: string): Promise<{ body: { count: number | null }; setCookie: string | null }> {
      const response = await fetch(base + path, { headers: cookie ? { cookie } : {} });
      expect(response.status).toBe(200);
      const setCookie = response.headers.get('set-cookie');
      return { body: (await response.json()) as { count: number | null }, setCookie: setCookie && setCookie.split(';')[0] };
    }

    it('increments a counter across requests that carry the cookie', async () => {
      const first = await get('/count');
      expect(first.body.count).toBe(1);
      expect(first.setCookie).toMatch(/^connect\.sid=s%3A/);
      const cookie = first.setCookie!;
      expect((await get('/count', cookie)).body.count).toBe(2);
      expect((await get('/count', cookie)).body.count).toBe(3);
      expect((await get('/peek', cookie)).body.count).toBe(3);
      // Without the cookie: a new visitor starts again, and the first visitor's count is untouched.
      expect((await get('/count')).body.count).toBe(1);
      expect((await get('/peek', cookie)).body.count).toBe(3);
      await expect(api.length()).resolves.toBe(2);
    });

    it('saves nothing for a visitor whose session was never modified (saveUninitialized: false)', async () => {
      const peek = await get('/peek');
      expect(peek).toEqual({ body: { count: null }, setCookie: null });
      await expect(api.length()).resolves.toBe(0);
    });
  });
});
