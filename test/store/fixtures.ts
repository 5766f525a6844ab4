import { Cookie, Session } from 'express-session';
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import Redis from 'ioredis';
import { RedisSessionStore, type RedisSessionStoreOptions } from '@app/session';
import { resolveStoreOptions } from '@app/session/options/resolve-store-options';
import { SessionObservers, type SessionObserver } from '@app/session/redis/session-observer';
import type { SessionContext } from '@app/session/store/session-context';
import { SessionCore, createSessionContext, type SessionCoreFeatures } from '@app/session/store/session-core';
import { deleteByPrefix, uniquePrefix } from '../support/prefix';
import { startRedis, type RedisServerHandle } from '../support/redis';

/** A session object as express-session holds it during a request, with any keys a test likes. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type LiveSession = Session & Record<string, any>;

// express-session's typings hide these constructors, which its own middleware calls.
const SessionClass = Session as unknown as new (req: object) => Session;
const CookieClass = Cookie as unknown as new (options?: object) => Cookie;

type StoreLike = RedisSessionStore;

/** What a test plugs into a store's core besides its options: nothing, as in a bare store, unless it says. */
export interface CoreSetup {
  /** The features, built over the context (the user index needs it). */
  features?: (context: SessionContext) => SessionCoreFeatures;
  /** What the core reports to (metrics, events), as `SessionModule` attaches it: nothing unless the test says. */
  observer?: SessionObserver;
}

/**
 * A store over a persistence core the test can reach, as `SessionModule` shares one core between its
 * store, its request lifecycle and its service (the core is internal: the public store hides it).
 */
export function storeWithCore(options: RedisSessionStoreOptions, setup: CoreSetup = {}): { store: RedisSessionStore; core: SessionCore } {
  const observers = new SessionObservers();
  observers.add(setup.observer);
  const context = createSessionContext(resolveStoreOptions(options), observers);
  const core = new SessionCore(context, setup.features?.(context));
  return { store: new RedisSessionStore(options, core), core };
}

/** A random session ID, shaped like the ones the library and express-session generate. */
export function newSid(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * A fresh session, as express-session's `generate` builds it: a `Session` with a real `Cookie`. The
 * session keeps its request, as express-session's does; `request` adds to it (headers, ip).
 */
export function freshSession(store: StoreLike, sid: string, data: Record<string, unknown> = {}, cookie: object = {}, request: object = {}): LiveSession {
  const session = new SessionClass({ sessionID: sid, sessionStore: store, ...request }) as LiveSession;
  session.cookie = new CookieClass(cookie);
  Object.assign(session, data);
  return session;
}

/** Reads a session the way express-session does for a request: `get`, then `createSession`. */
export async function loadSession(store: StoreLike, sid: string): Promise<LiveSession> {
  const data = await store.get(sid);
  if (!data) throw new Error(`session ${sid} is not in Redis`);
  const req = { sessionID: sid, sessionStore: store };
  return store.createSession(req as never, data) as LiveSession;
}

/** `session.save()` as a promise: it goes through `store.set` as at the end of a request. */
export function saveSession(session: Session): Promise<void> {
  return new Promise((resolve, reject) => session.save((error?: Error) => (error ? reject(error) : resolve())));
}

/** Sleeps until the wall clock is past `at` (ms since the epoch). */
export async function sleepUntilAfter(at: number): Promise<void> {
  while (Date.now() <= at) await delay(Math.max(1, at - Date.now() + 1));
}

/** Calls a callback-style method and resolves with what the callback got. */
export function viaCallback<T>(
  call: (callback: (error: unknown, value?: T) => void) => unknown,
): Promise<{ error: unknown; value: T | undefined; returned: unknown }> {
  return new Promise((resolve) => {
    // `returned` is read in setImmediate, after the call has returned it.
    const done = (error: unknown, value?: T) => setImmediate(() => resolve({ error, value, returned }));
    const returned = call(done);
  });
}

/** A logger whose warnings a test can read. */
export function recordingLogger(): { warn: jest.Mock; error: jest.Mock } {
  return { warn: jest.fn(), error: jest.fn() };
}

/** A spec file's Redis: the server, a client for the stores under test and one for the test's own checks. */
export interface StoreRedis {
  redis: RedisServerHandle;
  client: Redis;
  admin: Redis;
}

export async function openStoreRedis(): Promise<StoreRedis> {
  const redis = await startRedis();
  const client = new Redis(redis.url);
  // Every store listens to its client's connection events, and these tests make a store per test.
  client.setMaxListeners(100);
  return { redis, client, admin: new Redis(redis.url) };
}

export async function closeStoreRedis(opened: Partial<StoreRedis>): Promise<void> {
  await opened.client?.quit();
  await opened.admin?.quit();
  await opened.redis?.stop();
}

/** What `redisPerSpec` gives a spec: its Redis's address and clients, and the prefix of the test running. */
export interface SpecRedis {
  readonly url: string;
  readonly client: Redis;
  readonly admin: Redis;
  readonly prefix: string;
}

/**
 * A Redis of the spec's own (jest hooks): started before its tests and stopped after them, a fresh
 * `prefix` per test whose keys are deleted after it; `setUp` runs once it is up (scripts to define).
 */
export function redisPerSpec(prefixName: string, setUp?: (opened: StoreRedis) => void): SpecRedis {
  let opened: StoreRedis | undefined;
  let prefix = '';
  beforeAll(async () => {
    opened = await openStoreRedis();
    setUp?.(opened);
  });
  afterAll(() => closeStoreRedis(opened ?? {}));
  beforeEach(() => {
    prefix = uniquePrefix(prefixName);
  });
  afterEach(() => deleteByPrefix(opened!.admin, prefix));
  return {
    get url() {
      return opened!.redis.url;
    },
    get client() {
      return opened!.client;
    },
    get admin() {
      return opened!.admin;
    },
    get prefix() {
      return prefix;
    },
  };
}
