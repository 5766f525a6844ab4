import { InternalServerErrorException, ServiceUnavailableException } from '@nestjs/common';
import type { SessionData } from 'express-session';
import { signCookie } from '../cookie/cookie-signature';
import { SessionCookie } from '../cookie/session-cookie';
import { messages } from '../errors/session.messages';
import { SessionStoreUnavailableError } from '../errors/session-store-unavailable.error';
import { digestOf } from '../redis/session-id';
import type { SessionRenewal } from '../renewal/session-renewal';
import type { RedisSessionStore } from '../store/redis-session-store';
import type { SessionCore } from '../store/session-core';
import { attachState, stateOf as storeStateOf, type SessionState } from '../store/session-state';
import type { StoredSession } from '../store/store-ports';
import type { HttpPlatform, SessionRequest } from './http-platform';
import { RequestSession } from './request-session-class';
import { STATE, type RequestSessionState, type StatefulRequest } from './request-state';
import { createSession, regenerate, SessionLifecycle, sessionOnFirstRead, type LifecycleOptions } from './session-lifecycle';

const SECRET = 'the-newest-secret-of-32-characters!!';
const OLD_SECRET = 'an-older-secret-still-in-the-rotation';
const COOKIE_ID = 'id-the-request-came-with-000000000';
const RENEWED_ID = 'the-id-a-renewal-moved-it-to-00000';
const HEADER = 'X-Session-Token';

/** A request as the fake platform reads it. */
interface FakeRequest extends SessionRequest {
  url: string;
  cookieHeader?: string;
  headers: Record<string, string>;
  res?: FakeResponse;
  sessionStore?: object;
}

interface FakeResponse {
  cookies: string[];
  headers: Record<string, string>;
}

interface Setup {
  options?: Partial<LifecycleOptions>;
  /** What `reader.loadNow` answers (or throws, when it is a function that throws). */
  loadNow?: () => StoredSession | null | undefined;
  /** What `reader.load` answers. */
  load?: () => Promise<StoredSession | null>;
  /** A renewal, whose `load` answers this. */
  renewalLoad?: () => Promise<StoredSession | null>;
  /** What `platform.isHttps` answers. */
  https?: boolean;
  /** Whether the session `admin.destroyRegenerated` ends existed (by default, it did). */
  destroy?: () => Promise<boolean>;
  /** The ID `admin.destroyRegenerated` answers it ended: a renewal's successor (by default, the ID asked for). */
  lastId?: string;
}

function setup(given: Setup = {}) {
  const calls = {
    path: 0,
    loadNow: [] as string[],
    load: [] as string[],
    renewalLoad: [] as string[],
    destroy: [] as [string, string][],
    httpsAsked: [] as (boolean | undefined)[],
    warn: [] as string[],
    error: [] as string[],
    saves: [] as string[],
  };
  let installed: (RedisSessionStore & { generate(req: SessionRequest): void }) | undefined;
  const platform = {
    install: (sessionStore: object) => (installed = sessionStore as typeof installed),
    cookieHeader: (req: FakeRequest) => req.cookieHeader,
    header: (req: FakeRequest, name: string) => req.headers[name],
    path: (req: FakeRequest) => {
      calls.path++;
      return req.url;
    },
    isHttps: (_req: FakeRequest, trustProxy: boolean | undefined) => {
      calls.httpsAsked.push(trustProxy);
      return given.https ?? false;
    },
    responseOf: (req: FakeRequest) => req.res,
    appendCookie: (res: FakeResponse, value: string) => res.cookies.push(value),
    setHeader: (res: FakeResponse, name: string, value: string) => (res.headers[name] = value),
    fail: () => {
      throw new Error('the fake platform fails nothing');
    },
    statusCode: () => 200,
    describe: () => 'GET /cart',
  } as unknown as HttpPlatform;
  const store = { isTheStore: true } as unknown as RedisSessionStore;
  const core = {
    reader: {
      loadNow: (id: string) => {
        calls.loadNow.push(id);
        return given.loadNow ? given.loadNow() : undefined;
      },
      load: (id: string) => {
        calls.load.push(id);
        return given.load ? given.load() : Promise.resolve(null);
      },
    },
    admin: {
      // The ID whose session ended (the one asked for, or `given.lastId`: a renewal's successor), when it existed.
      destroyRegenerated: (id: string) => {
        calls.destroy.push([id, 'regenerated']);
        return (given.destroy ? given.destroy() : Promise.resolve(true)).then((existed) => (existed ? (given.lastId ?? id) : undefined));
      },
    },
    context: {
      stateFor: (session: object): SessionState => storeStateOf(session) ?? attachState(session, { stored: null, createdAt: Date.now(), refreshed: false }),
      settings: { absoluteTimeout: 0 },
    },
    writer: {
      saveChanges: (id: string) => {
        calls.saves.push(id);
        return null;
      },
    },
    gateway: { recentlyUnavailable: () => false },
  } as unknown as SessionCore;
  const renewal = given.renewalLoad
    ? ({
        load: (id: string) => {
          calls.renewalLoad.push(id);
          return given.renewalLoad!();
        },
      } as unknown as SessionRenewal)
    : undefined;
  const logger = { warn: (message: string) => calls.warn.push(message), error: (message: string) => calls.error.push(message) };
  const options: LifecycleOptions = {
    secrets: [SECRET, OLD_SECRET],
    cookie: { name: 'sid', path: '/', httpOnly: true, sameSite: 'lax' },
    ...given.options,
  };
  const lifecycle = new SessionLifecycle(options, store, core, platform, logger, renewal);
  return { lifecycle, calls, store, core, installed: installed!, platform };
}

function request(url = '/cart', extra: Partial<FakeRequest> = {}): FakeRequest {
  return { url, headers: {}, ...extra } as FakeRequest;
}

const signed = (id: string) => signCookie(id, SECRET);
const cookieOf = (id: string) => `sid=${encodeURIComponent(signed(id))}`;
const stateOfRequest = (req: object) => (req as StatefulRequest)[STATE];

/** A session as the store reads it: its data, a cookie, and the store's bookkeeping attached. */
function stored(values: Record<string, unknown>, state: Partial<SessionState> = {}): StoredSession {
  const data = { cookie: { originalMaxAge: 3_600_000, expires: new Date(Date.now() + 3_600_000), path: '/', httpOnly: true }, ...values };
  const json = new Map(Object.entries(values).map(([key, value]) => [key, JSON.stringify(value)]));
  attachState(data, { stored: json, createdAt: Date.now(), refreshed: true, ...state });
  return data;
}

/** Runs the way in; answers whether `next` was called in this tick, and a promise of the call. */
function handle(lifecycle: SessionLifecycle, req: FakeRequest) {
  let calledWith: unknown[] | undefined;
  let resolve!: (args: unknown[]) => void;
  const done = new Promise<unknown[]>((r) => (resolve = r));
  lifecycle.handle(req, (...args: unknown[]) => {
    if (calledWith) throw new Error('next called twice');
    calledWith = args;
    resolve(args);
  });
  return { sync: calledWith !== undefined, done, args: () => calledWith };
}

describe('SessionLifecycle: the way in', () => {
  it('leaves a request outside the cookie path alone, and handles one under it', () => {
    const { lifecycle, calls } = setup({ options: { cookie: { name: 'sid', path: '/app' } }, loadNow: () => null });
    const outside = request('/other', { cookieHeader: cookieOf(COOKIE_ID) });
    expect(handle(lifecycle, outside).sync).toBe(true);
    expect(stateOfRequest(outside)).toBeUndefined();
    expect(calls.loadNow).toEqual([]);
    const inside = request('/app/cart', { cookieHeader: cookieOf(COOKIE_ID) });
    handle(lifecycle, inside);
    expect(calls.loadNow).toEqual([COOKIE_ID]);
    expect(stateOfRequest(inside)).toBeDefined();
  });

  it.each([
    ['/app', '/application', false],
    ['/app', '/ap', false],
    ['/app', '/other/app', false],
    ['/app', '/app', true],
    ['/app', '/app?next=%2F', true],
    ['/app', '/app/', true],
    ['/app/', '/app/cart', true],
    ['/app/', '/app', false],
  ])('with the cookie path %s, handles %s: %s (whole path segments, as a browser sends the cookie)', (path, url, handled) => {
    const { lifecycle, calls } = setup({ options: { cookie: { name: 'sid', path } }, loadNow: () => null });
    const req = request(url, { cookieHeader: cookieOf(COOKIE_ID) });
    handle(lifecycle, req);
    expect(stateOfRequest(req) !== undefined).toBe(handled);
    expect(calls.loadNow).toEqual(handled ? [COOKIE_ID] : []);
  });

  it('under idFrom header, loads the session of a token sent outside the cookie path: the path limits the cookie only', () => {
    const { lifecycle, calls } = setup({ options: { idFrom: 'header', cookie: { name: 'sid', path: '/app' } }, loadNow: () => stored({ cart: 1 }) });
    const req = request('/api/cart', { headers: { 'x-session-token': signed(COOKIE_ID) } });
    expect(handle(lifecycle, req).sync).toBe(true);
    expect(calls.loadNow).toEqual([COOKIE_ID]);
    expect(stateOfRequest(req)).toMatchObject({ phase: 'live', carrier: 'header', cookieId: COOKIE_ID });
    const without = request('/api/cart');
    handle(lifecycle, without);
    expect(stateOfRequest(without)).toMatchObject({ phase: 'pending', carrier: 'header' });
  });

  it('under idFrom both, outside the cookie path, reads the header alone and would announce a new session by header only', () => {
    const { lifecycle, calls } = setup({ options: { idFrom: 'both', cookie: { name: 'sid', path: '/app' } }, loadNow: () => null });
    const cookieOnly = request('/api/cart', { cookieHeader: cookieOf(COOKIE_ID) });
    handle(lifecycle, cookieOnly);
    expect(calls.loadNow).toEqual([]);
    expect(stateOfRequest(cookieOnly)).toMatchObject({ phase: 'pending', carrier: 'header', cookieId: undefined });
    const byHeader = request('/api/cart', { cookieHeader: cookieOf('a-cookie-id-the-path-never-sends-0'), headers: { 'x-session-token': signed(COOKIE_ID) } });
    handle(lifecycle, byHeader);
    expect(calls.loadNow).toEqual([COOKIE_ID]);
    expect(stateOfRequest(byHeader)).toMatchObject({ phase: 'pending', carrier: 'header', cookieId: COOKIE_ID });
    const inside = request('/app/cart');
    handle(lifecycle, inside);
    expect(stateOfRequest(inside)).toMatchObject({ phase: 'pending', carrier: 'either' });
  });

  it('does not even ask for the path when the cookie path is "/"', () => {
    const { lifecycle, calls } = setup();
    handle(lifecycle, request('/cart'));
    expect(calls.path).toBe(0);
  });

  it('marks a request without an ID pending, with one state shared by every such request of a carrier', () => {
    const { lifecycle, calls } = setup();
    const first = request('/cart');
    const second = request('/other');
    const { sync, args } = handle(lifecycle, first);
    handle(lifecycle, second);
    expect(sync).toBe(true);
    expect(args()).toEqual([]);
    expect(stateOfRequest(first)).toStrictEqual({ phase: 'pending', cookieId: undefined, carrier: 'cookie', ending: false, lifecycle });
    expect(stateOfRequest(second)).toBe(stateOfRequest(first));
    expect(calls.loadNow).toEqual([]);
    expect(calls.warn).toEqual([]);
  });

  it('keeps one pending state per carrier: a header request, a cookie request and one with neither under idFrom both', () => {
    const { lifecycle } = setup({ options: { idFrom: 'both' } });
    const neither = request();
    const header = request('/cart', { headers: { 'x-session-token': 'not-signed' } });
    const cookie = request('/cart', { cookieHeader: 'sid=not-signed' });
    for (const req of [neither, header, cookie]) handle(lifecycle, req);
    expect(stateOfRequest(neither)).toMatchObject({ phase: 'pending', carrier: 'either' });
    expect(stateOfRequest(header)).toMatchObject({ phase: 'pending', carrier: 'header' });
    expect(stateOfRequest(cookie)).toMatchObject({ phase: 'pending', carrier: 'cookie' });
  });

  it('reads the cookie only by default, and names the ID header X-Session-Token when the header carries IDs', () => {
    const byDefault = setup();
    const headerOnly = request('/cart', { headers: { 'x-session-token': signed(COOKIE_ID) } });
    handle(byDefault.lifecycle, headerOnly);
    expect(byDefault.calls.loadNow).toEqual([]);
    expect(stateOfRequest(headerOnly)).toMatchObject({ phase: 'pending', carrier: 'cookie' });

    const byHeader = setup({ options: { idFrom: 'header' } });
    expect(byHeader.lifecycle.transport.headerName).toBe(HEADER);
    const req = request('/cart', { headers: { 'x-session-token': signed(COOKIE_ID) } });
    handle(byHeader.lifecycle, req);
    expect(byHeader.calls.loadNow).toEqual([COOKIE_ID]);
  });

  it('warns of a cookie whose signature does not verify, and goes on without a session', () => {
    const { lifecycle, calls } = setup();
    const req = request('/cart', { cookieHeader: `sid=${encodeURIComponent(signCookie(COOKIE_ID, 'another-secret-of-32-characters!!!!'))}` });
    expect(handle(lifecycle, req).sync).toBe(true);
    expect(calls.warn).toEqual([messages.invalidSignature()]);
    expect(stateOfRequest(req)).toMatchObject({ phase: 'pending', cookieId: undefined, carrier: 'cookie' });
  });

  it('warns of a forged ID header by its name', () => {
    const { lifecycle, calls } = setup({ options: { idFrom: 'header', header: 'X-Token' } });
    handle(lifecycle, request('/cart', { headers: { 'x-token': signCookie(COOKIE_ID, 'another-secret-of-32-characters!!!!') } }));
    expect(calls.warn).toEqual([messages.invalidHeaderSignature('X-Token')]);
  });

  it('does not warn of a value that does not claim to be signed', () => {
    const { lifecycle, calls } = setup();
    handle(lifecycle, request('/cart', { cookieHeader: 'sid=plain-value' }));
    expect(calls.warn).toEqual([]);
  });

  it('puts a session the near cache holds on the request in this tick, without an asynchronous load', () => {
    const data = stored({ cart: 3, user: { name: 'ada' } });
    const { lifecycle, calls } = setup({ loadNow: () => data });
    const req = request('/cart', { cookieHeader: cookieOf(COOKIE_ID) });
    const { sync, args } = handle(lifecycle, req);
    expect(sync).toBe(true);
    expect(args()).toEqual([]);
    expect(calls.load).toEqual([]);
    expect(req.sessionID).toBe(COOKIE_ID);
    expect(req.session).toBeInstanceOf(RequestSession);
    expect(req.session).toMatchObject({ cart: 3, user: { name: 'ada' } });
    expect(stateOfRequest(req)).toStrictEqual({ phase: 'live', cookieId: COOKIE_ID, carrier: 'cookie', ending: false, lifecycle });
  });

  it('loads from Redis when the near cache has nothing, calling next only once it answers', async () => {
    let answer!: (data: StoredSession | null) => void;
    const { lifecycle, calls } = setup({ load: () => new Promise((resolve) => (answer = resolve)) });
    const req = request('/cart', { cookieHeader: cookieOf(COOKIE_ID) });
    const { sync, done } = handle(lifecycle, req);
    expect(sync).toBe(false);
    expect(calls.loadNow).toEqual([COOKIE_ID]);
    expect(calls.load).toEqual([COOKIE_ID]);
    expect(stateOfRequest(req)).toBeUndefined();
    answer(stored({ cart: 1 }));
    expect(await done).toEqual([]);
    expect(stateOfRequest(req)).toMatchObject({ phase: 'live', cookieId: COOKIE_ID, carrier: 'cookie' });
    expect(req.session).toMatchObject({ cart: 1 });
  });

  it('marks a request whose session is absent or expired pending, remembering the ID it came with', async () => {
    const found = setup({ loadNow: () => null });
    const hit = request('/cart', { cookieHeader: cookieOf(COOKIE_ID) });
    expect(handle(found.lifecycle, hit).sync).toBe(true);
    expect(found.calls.load).toEqual([]);
    expect(stateOfRequest(hit)).toStrictEqual({ phase: 'pending', cookieId: COOKIE_ID, carrier: 'cookie', ending: false, lifecycle: found.lifecycle });
    expect(Object.prototype.hasOwnProperty.call(hit, 'session')).toBe(false);

    const loaded = setup({ load: () => Promise.resolve(null) });
    const req = request('/cart', { cookieHeader: cookieOf(COOKIE_ID) });
    await handle(loaded.lifecycle, req).done;
    expect(stateOfRequest(req)).toStrictEqual({ phase: 'pending', cookieId: COOKIE_ID, carrier: 'cookie', ending: false, lifecycle: loaded.lifecycle });
  });

  it('under renewal, loads through the renewal only, never from the near cache in this tick', async () => {
    const { lifecycle, calls } = setup({ renewalLoad: () => Promise.resolve(stored({ cart: 2 })), loadNow: () => stored({ cart: 'cached' }) });
    const req = request('/cart', { cookieHeader: cookieOf(COOKIE_ID) });
    const { sync, done } = handle(lifecycle, req);
    expect(sync).toBe(false);
    await done;
    expect(calls.loadNow).toEqual([]);
    expect(calls.load).toEqual([]);
    expect(calls.renewalLoad).toEqual([COOKIE_ID]);
    expect(req.session).toMatchObject({ cart: 2 });
  });

  it('takes the ID a renewal moved the session to, remembering the one the request came with', async () => {
    const { lifecycle } = setup({ renewalLoad: () => Promise.resolve(stored({ cart: 2 }, { renewedId: RENEWED_ID })) });
    const req = request('/cart', { cookieHeader: cookieOf(COOKIE_ID) });
    await handle(lifecycle, req).done;
    expect(req.sessionID).toBe(RENEWED_ID);
    expect(stateOfRequest(req)).toMatchObject({ phase: 'live', cookieId: COOKIE_ID });
  });

  it('marks the request failed when the load fails, keeping a SessionStoreUnavailableError as it is', async () => {
    const failure = new SessionStoreUnavailableError('Redis went away');
    const { lifecycle } = setup({ load: () => Promise.reject(failure) });
    const req = request('/cart', { cookieHeader: cookieOf(COOKIE_ID) });
    expect(await handle(lifecycle, req).done).toEqual([]);
    expect(stateOfRequest(req)).toStrictEqual({ phase: 'failed', cookieId: COOKIE_ID, carrier: 'cookie', failure, ending: false, lifecycle });
  });

  it('wraps any other failure of the load, by its message, with the error as its cause', async () => {
    const error = new Error('boom');
    const { lifecycle } = setup({ load: () => Promise.reject(error) });
    const req = request('/cart', { cookieHeader: cookieOf(COOKIE_ID) });
    await handle(lifecycle, req).done;
    const failure = stateOfRequest(req)!.failure as SessionStoreUnavailableError;
    expect(failure).toBeInstanceOf(SessionStoreUnavailableError);
    expect(failure.message).toBe(new SessionStoreUnavailableError('boom').message);
    expect(failure.cause).toBe(error);
  });

  it('names a failure that is not an Error (a string, undefined) by its string form', async () => {
    for (const [thrown, detail] of [
      ['a plain string', 'a plain string'],
      [undefined, 'undefined'],
      [null, 'null'],
    ] as const) {
      const { lifecycle } = setup({ load: () => Promise.reject(thrown) }); // eslint-disable-line @typescript-eslint/prefer-promise-reject-errors -- what the load may reject with is not typed
      const req = request('/cart', { cookieHeader: cookieOf(COOKIE_ID) });
      await handle(lifecycle, req).done;
      const failure = stateOfRequest(req)!.failure as SessionStoreUnavailableError;
      expect(failure.message).toBe(new SessionStoreUnavailableError(detail).message);
      expect(failure.cause).toBe(thrown);
    }
  });

  it('marks the request failed, in this tick, when the near cache throws', () => {
    const error = new Error('cache broken');
    const { lifecycle, calls } = setup({
      loadNow: () => {
        throw error;
      },
    });
    const req = request('/cart', { cookieHeader: cookieOf(COOKIE_ID) });
    expect(handle(lifecycle, req).sync).toBe(true);
    expect(calls.load).toEqual([]);
    expect(stateOfRequest(req)).toMatchObject({ phase: 'failed', cookieId: COOKIE_ID, carrier: 'cookie' });
    expect((stateOfRequest(req)!.failure as Error).cause).toBe(error);
  });
});

describe('sessionOnFirstRead: req.session on a request without a session of its own', () => {
  it('creates the pending session on first read, live from then on, with a new ID', () => {
    const { lifecycle } = setup();
    const req = request();
    handle(lifecycle, req);
    const session = sessionOnFirstRead(req);
    expect(session).toBeInstanceOf(RequestSession);
    expect(req.session).toBe(session);
    expect(req.sessionID).toMatch(/^[\w-]{32}$/);
    expect(stateOfRequest(req)).toStrictEqual({ phase: 'live', cookieId: undefined, carrier: 'cookie', ending: false, lifecycle });
  });

  it('starts a new, empty session under a new ID on a live request whose session was ended (logout, destroy)', () => {
    const { lifecycle } = setup({ loadNow: () => stored({ cart: 1 }) });
    const req = request('/cart', { cookieHeader: cookieOf(COOKIE_ID) });
    handle(lifecycle, req);
    delete (req as Partial<SessionRequest>).session;
    const fresh = sessionOnFirstRead(req);
    expect(fresh).toBeInstanceOf(RequestSession);
    expect(req.session).toBe(fresh);
    expect({ ...fresh }).toEqual({ cookie: expect.anything() }); // nothing of the ended session
    expect(req.sessionID).not.toBe(COOKIE_ID);
    // The cookie it came with stays the one to replace: the way out announces the new ID.
    expect(stateOfRequest(req)).toMatchObject({ phase: 'live', cookieId: COOKIE_ID });
  });

  it('answers undefined on a live request whose session was ended once the response is on its way out', () => {
    const { lifecycle } = setup({ loadNow: () => stored({ cart: 1 }) });
    const req = request('/cart', { cookieHeader: cookieOf(COOKIE_ID) });
    handle(lifecycle, req);
    delete (req as Partial<SessionRequest>).session;
    stateOfRequest(req)!.ending = true;
    expect(sessionOnFirstRead(req)).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(req, 'session')).toBe(false);
  });

  it('throws the 503 of a failed load, with the store error as its cause', () => {
    const failure = new SessionStoreUnavailableError('down');
    const { lifecycle } = setup({
      loadNow: () => {
        throw failure;
      },
    });
    const req = request('/cart', { cookieHeader: cookieOf(COOKIE_ID) });
    handle(lifecycle, req);
    let thrown: unknown;
    try {
      sessionOnFirstRead(req);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ServiceUnavailableException);
    expect((thrown as ServiceUnavailableException).cause).toBe(failure);
    expect(Object.prototype.hasOwnProperty.call(req, 'session')).toBe(false);
  });

  it('answers undefined for a request the way in never saw, unless the module is mounted late', () => {
    const { installed, calls } = setup();
    expect(sessionOnFirstRead(request())).toBeUndefined();
    expect(sessionOnFirstRead(request('/cart', { sessionStore: { destroy: () => undefined } }))).toBeUndefined();
    expect(sessionOnFirstRead(request('/cart', { sessionStore: installed }))).toBeUndefined();
    expect(calls.error).toEqual([]);
  });

  it('mounted late, throws the error naming the fix for a read before the way in, logging it once', () => {
    const { installed, calls, lifecycle } = setup({ options: { mountedLate: true } });
    for (let i = 0; i < 2; i++) {
      const req = request('/cart', { sessionStore: installed });
      expect(() => sessionOnFirstRead(req)).toThrow(new InternalServerErrorException(messages.sessionReadTooEarly()));
      expect(() => lifecycle.readBeforeHandled(req)).toThrow(InternalServerErrorException);
    }
    expect(calls.error).toEqual([messages.sessionReadTooEarly()]);
  });

  it('mounted late, answers undefined outside the cookie path, where the module never handles anything', () => {
    const { installed, lifecycle } = setup({ options: { mountedLate: true, cookie: { name: 'sid', path: '/app' } } });
    expect(sessionOnFirstRead(request('/other', { sessionStore: installed }))).toBeUndefined();
    expect(lifecycle.readBeforeHandled(request('/other'))).toBeUndefined();
    expect(lifecycle.readBeforeHandled(request('/application'))).toBeUndefined();
    expect(() => lifecycle.readBeforeHandled(request('/app/cart'))).toThrow(InternalServerErrorException);
  });

  it('mounted late with the ID in a header, refuses a read before the way in on any path, since the way in handles every path then', () => {
    for (const idFrom of ['header', 'both'] as const) {
      const { lifecycle } = setup({ options: { mountedLate: true, idFrom, cookie: { name: 'sid', path: '/app' } } });
      expect(() => lifecycle.readBeforeHandled(request('/api/cart'))).toThrow(InternalServerErrorException);
    }
  });
});

describe('SessionLifecycle: what it installs', () => {
  it('installs the store itself underneath, plus a generate that puts a new session with a new ID on the request', () => {
    const { installed, store, lifecycle } = setup();
    expect(Object.getPrototypeOf(installed)).toBe(store);
    const req = request('/cart', { sessionID: 'old' });
    installed.generate(req);
    expect(req.sessionID).toMatch(/^[\w-]{32}$/);
    expect(req.session).toBeInstanceOf(RequestSession);
    expect(stateOfRequest(req)).toStrictEqual({ phase: 'live', cookieId: undefined, carrier: 'cookie', ending: false, lifecycle });
    const first = req.sessionID;
    installed.generate(req);
    expect(req.sessionID).not.toBe(first);
  });
});

describe('SessionLifecycle.generate', () => {
  it('gives the new session a cookie of the configured settings, Secure as the request is HTTPS, trustProxy asked', () => {
    const { lifecycle, calls } = setup({
      https: true,
      options: { trustProxy: true, cookie: { name: 'sid', path: '/app', secure: 'auto', httpOnly: true, maxAge: 60_000 } },
    });
    const req = request('/app');
    lifecycle.generate(req, 'new-id');
    expect(req.sessionID).toBe('new-id');
    const cookie = req.session.cookie;
    expect(cookie).toBeInstanceOf(SessionCookie);
    expect(cookie).toMatchObject({ path: '/app', httpOnly: true, secure: true, originalMaxAge: 60_000 });
    expect(calls.httpsAsked).toEqual([true]);
    expect(Object.keys(req.session)).toEqual(['cookie']);
  });

  it('carries the previous session’s index entry, and its digest when it was stored', () => {
    const { lifecycle } = setup();
    const req = request('/cart', { sessionID: COOKIE_ID });
    createSession(req, stored({ cart: 1 }, { indexEntry: { userId: 'ada', digest: digestOf(COOKIE_ID) } }));
    lifecycle.generate(req, 'new-id');
    const state = storeStateOf(req.session)!;
    expect(state.indexEntry).toEqual({ userId: 'ada', digest: digestOf(COOKIE_ID) });
    expect(state.previousDigest).toBe(digestOf(COOKIE_ID));
    expect(state.stored).toBeNull();
    expect(req.session).not.toHaveProperty('cart');
  });

  it('carries no digest of a previous session never stored, and no state at all when there is nothing to carry', () => {
    const { lifecycle } = setup();
    const req = request('/cart');
    lifecycle.generate(req, 'first-id');
    lifecycle.generate(req, 'second-id');
    expect(storeStateOf(req.session)).toBeUndefined();

    const withEntry = request('/cart');
    lifecycle.generate(withEntry, 'first-id');
    attachState(withEntry.session, { stored: null, createdAt: 1, refreshed: false, indexEntry: { userId: 'ada', digest: 'd' } });
    lifecycle.generate(withEntry, 'second-id');
    expect(storeStateOf(withEntry.session)).toMatchObject({ indexEntry: { userId: 'ada', digest: 'd' } });
    expect(storeStateOf(withEntry.session)!.previousDigest).toBeUndefined();
  });

  it('leaves a live request’s state as it is: the way out is already set up', () => {
    const { lifecycle } = setup();
    const req = request('/cart');
    const state: RequestSessionState = { phase: 'live', cookieId: COOKIE_ID, carrier: 'header', ending: true, setCookie: 'sid=prepared', lifecycle };
    (req as StatefulRequest)[STATE] = state;
    lifecycle.generate(req, 'new-id');
    expect(stateOfRequest(req)).toBe(state);
    expect(state).toStrictEqual({ phase: 'live', cookieId: COOKIE_ID, carrier: 'header', ending: true, setCookie: 'sid=prepared', lifecycle });
  });

  it('makes a pending request live, keeping the ID and the carrier it came with', () => {
    const { lifecycle } = setup();
    const req = request('/cart');
    (req as StatefulRequest)[STATE] = { phase: 'pending', cookieId: COOKIE_ID, carrier: 'header', ending: false, lifecycle };
    lifecycle.generate(req, 'new-id');
    expect(stateOfRequest(req)).toStrictEqual({ phase: 'live', cookieId: COOKIE_ID, carrier: 'header', ending: false, lifecycle });
  });

  it('gives a request the way in never saw the transport’s default carrier', () => {
    const { lifecycle } = setup({ options: { idFrom: 'both' } });
    const req = request('/cart');
    lifecycle.generate(req, 'new-id');
    expect(stateOfRequest(req)).toStrictEqual({ phase: 'live', cookieId: undefined, carrier: 'either', ending: false, lifecycle });
  });
});

/** Calls the installed store's `regenerate` as express-session's Session#regenerate does; answers the callback's arguments. */
function regenerateThrough(installed: object, req: FakeRequest): Promise<unknown[]> {
  const store = installed as { regenerate(req: object, done: (...args: unknown[]) => void): void };
  return new Promise((resolve) => store.regenerate(req, (...args) => resolve(args)));
}

describe("req.sessionStore.regenerate (what express-session's Session#regenerate calls)", () => {
  it('deletes the old session as a regenerate, new ID, and answers its callback whether the data may be carried', async () => {
    const { lifecycle, calls, installed } = setup({ loadNow: () => stored({ cart: 1 }), destroy: () => Promise.resolve(true) });
    const req = request('/cart', { cookieHeader: cookieOf(COOKIE_ID) });
    handle(lifecycle, req);
    const answer = await regenerateThrough(installed, req);
    expect(answer).toEqual([undefined, true]);
    expect(calls.destroy).toEqual([[COOKIE_ID, 'regenerated']]);
    expect(req.sessionID).not.toBe(COOKIE_ID);
    expect(req.session).not.toHaveProperty('cart');
  });

  it('answers false for a stored session a logout ended meanwhile, and hands on a failed deletion', async () => {
    const gone = setup({ loadNow: () => stored({ cart: 1 }), destroy: () => Promise.resolve(false) });
    const req = request('/cart', { cookieHeader: cookieOf(COOKIE_ID) });
    handle(gone.lifecycle, req);
    expect(await regenerateThrough(gone.installed, req)).toEqual([undefined, false]);
    const failure = new Error('down');
    const failing = setup({ loadNow: () => stored({ cart: 1 }), destroy: () => Promise.reject(failure) });
    const other = request('/cart', { cookieHeader: cookieOf(COOKIE_ID) });
    handle(failing.lifecycle, other);
    expect(await regenerateThrough(failing.installed, other)).toEqual([failure]);
    expect(other.sessionID).toBe(COOKIE_ID);
  });
});

describe('regenerate', () => {
  it('throws naming the missing module on a request without session handling', async () => {
    await expect(regenerate(request(), { id: 'new-id' })).rejects.toThrow(messages.noSession());
  });

  it('deletes the old session in Redis first, then puts the new one under the given ID', async () => {
    let deleted!: (existed: boolean) => void;
    const { lifecycle, calls } = setup({ loadNow: () => stored({ cart: 1 }), destroy: () => new Promise<boolean>((resolve) => (deleted = resolve)) });
    const req = request('/cart', { cookieHeader: cookieOf(COOKIE_ID) });
    handle(lifecycle, req);
    const old = req.session;
    let finished = false;
    const regenerating = regenerate(req, { id: 'given-id' }).then(() => (finished = true));
    regenerating.catch(() => undefined); // a rejection fails the await below, not the test process
    expect(calls.destroy).toEqual([[COOKIE_ID, 'regenerated']]);
    await Promise.resolve();
    expect(req.sessionID).toBe(COOKIE_ID);
    expect(req.session).toBe(old);
    expect(finished).toBe(false);
    deleted(true);
    await regenerating;
    expect(req.sessionID).toBe('given-id');
    expect(req.session).not.toBe(old);
    expect(req.session).not.toHaveProperty('cart');
  });

  it('leaves the old session untouched when its deletion fails', async () => {
    const { lifecycle } = setup({ loadNow: () => stored({ cart: 1 }), destroy: () => Promise.reject(new Error('down')) });
    const req = request('/cart', { cookieHeader: cookieOf(COOKIE_ID) });
    handle(lifecycle, req);
    const old = req.session;
    await expect(regenerate(req, { id: 'given-id' })).rejects.toThrow('down');
    expect(req.sessionID).toBe(COOKIE_ID);
    expect(req.session).toBe(old);
  });

  it('deletes nothing when the request has no session of its own (pending, or destroyed)', async () => {
    const { lifecycle, calls } = setup();
    const req = request();
    handle(lifecycle, req);
    expect(await regenerate(req, { id: 'given-id' })).toBe(true);
    expect(calls.destroy).toEqual([]);
    expect(req.sessionID).toBe('given-id');
    expect(stateOfRequest(req)).toMatchObject({ phase: 'live', cookieId: undefined });
  });

  it('answers true when the deletion found the old session, whose index entry and digest the new one carries', async () => {
    const indexEntry = { userId: 'ada', digest: digestOf(COOKIE_ID) };
    const { lifecycle } = setup({ loadNow: () => stored({ cart: 1 }, { indexEntry }), destroy: () => Promise.resolve(true) });
    const req = request('/cart', { cookieHeader: cookieOf(COOKIE_ID) });
    handle(lifecycle, req);
    expect(await regenerate(req, { id: 'given-id' })).toBe(true);
    expect(storeStateOf(req.session)).toMatchObject({ indexEntry, previousDigest: digestOf(COOKIE_ID), stored: null });
  });

  it("carries the index entry under the successor's digest when a renewal moved the old session meanwhile", async () => {
    const indexEntry = { userId: 'ada', digest: digestOf(COOKIE_ID) };
    const { lifecycle } = setup({ loadNow: () => stored({ cart: 1 }, { indexEntry }), lastId: 'renewed-id' });
    const req = request('/cart', { cookieHeader: cookieOf(COOKIE_ID) });
    handle(lifecycle, req);
    expect(await regenerate(req, { id: 'given-id' })).toBe(true);
    expect(storeStateOf(req.session)).toMatchObject({ indexEntry: { userId: 'ada', digest: digestOf('renewed-id') }, stored: null });
  });

  it('answers false for a stored session its deletion found gone (a logout meanwhile): the new one starts without its index entry or digest', async () => {
    const { lifecycle, calls } = setup({
      loadNow: () => stored({ cart: 1 }, { indexEntry: { userId: 'ada', digest: digestOf(COOKIE_ID) } }),
      destroy: () => Promise.resolve(false),
    });
    const req = request('/cart', { cookieHeader: cookieOf(COOKIE_ID) });
    handle(lifecycle, req);
    const old = req.session;
    expect(await regenerate(req, { id: 'given-id' })).toBe(false);
    expect(calls.destroy).toEqual([[COOKIE_ID, 'regenerated']]);
    expect(req.sessionID).toBe('given-id');
    expect(req.session).toBeInstanceOf(RequestSession);
    expect(req.session).not.toBe(old);
    expect(storeStateOf(req.session)).toBeUndefined();
    expect(stateOfRequest(req)).toMatchObject({ phase: 'live', cookieId: COOKIE_ID });
  });

  it('answers true for a session never stored, though its deletion finds nothing, and carries its index entry', async () => {
    const { lifecycle } = setup({ destroy: () => Promise.resolve(false) });
    const fresh = request();
    handle(lifecycle, fresh);
    sessionOnFirstRead(fresh);
    expect(storeStateOf(fresh.session)).toBeUndefined();
    expect(await regenerate(fresh, { id: 'given-id' })).toBe(true);

    const withEntry = request();
    handle(lifecycle, withEntry);
    attachState(sessionOnFirstRead(withEntry)!, { stored: null, createdAt: 1, refreshed: false, indexEntry: { userId: 'ada', digest: 'd' } });
    expect(await regenerate(withEntry, { id: 'second-id' })).toBe(true);
    expect(storeStateOf(withEntry.session)).toMatchObject({ indexEntry: { userId: 'ada', digest: 'd' } });
    expect(storeStateOf(withEntry.session)!.previousDigest).toBeUndefined();
  });
});

describe('createSession', () => {
  it('puts data without the store’s bookkeeping on the request as express-session does, with a SessionCookie', () => {
    const req = request();
    const data = { cookie: { originalMaxAge: 3_600_000, expires: new Date(Date.now() + 1_000), path: '/' }, cart: 1, user: { name: 'ada' } };
    createSession(req, data as unknown as SessionData);
    expect(req.session).toBeInstanceOf(RequestSession);
    expect(req.session).toMatchObject({ cart: 1, user: { name: 'ada' } });
    expect(req.session.cookie).toBeInstanceOf(SessionCookie);
    expect(req.session.cookie.originalMaxAge).toBe(3_600_000);
    expect(storeStateOf(req.session)).toBeUndefined();
  });

  it('carries the store’s bookkeeping over, object values behind tracking accessors, the cookie set last', () => {
    const req = request();
    const data = stored({ cart: 1, user: { name: 'ada' } });
    const state = storeStateOf(data)!;
    createSession(req, data);
    expect(storeStateOf(req.session)).toBe(state);
    expect(req.session).toMatchObject({ cart: 1, user: { name: 'ada' } });
    expect(Object.getOwnPropertyDescriptor(req.session, 'user')!.get).toBeInstanceOf(Function);
    expect(state.tracked!.values.get('user')).toEqual({ name: 'ada' });
    expect(Object.keys(req.session)).toEqual(['cart', 'user', 'cookie']);
    expect(req.session.cookie).toBeInstanceOf(SessionCookie);
    expect(req.session.cookie.originalMaxAge).toBe(3_600_000);
  });
});

describe('SessionLifecycle: logout’s cookie and the way out', () => {
  it('clears the cookie with its attributes, expired long ago, without Max-Age, Secure as the request is HTTPS', () => {
    const { lifecycle, calls } = setup({
      https: true,
      options: {
        trustProxy: true,
        cookie: { name: 'sid', path: '/app', secure: 'auto', httpOnly: true, sameSite: 'strict', maxAge: 60_000, expires: new Date(4e12) },
      },
    });
    const res: FakeResponse = { cookies: [], headers: {} };
    lifecycle.clearCookie(request('/app', { res }));
    expect(res.cookies).toEqual(['sid=; Path=/app; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Strict']);
    expect(calls.httpsAsked).toEqual([true]);
  });

  it('clears nothing on a request without a response (a socket’s)', () => {
    const { lifecycle, calls } = setup();
    expect(() => lifecycle.clearCookie(request())).not.toThrow();
    expect(calls.httpsAsked).toEqual([]);
  });

  it('hands the way out the cookie name, the secrets and trustProxy', () => {
    const { lifecycle, calls } = setup({ options: { trustProxy: false } });
    const req = request();
    handle(lifecycle, req);
    const session = sessionOnFirstRead(req)!;
    (session as unknown as Record<string, unknown>).cart = 1;
    const res: FakeResponse = { cookies: [], headers: {} };
    expect(lifecycle.beforeEnd(req, stateOfRequest(req)!, res, () => 'finished')).toBe('finished');
    expect(calls.saves).toEqual([req.sessionID]);
    lifecycle.beforeHeaders(req, stateOfRequest(req)!, res);
    expect(res.cookies).toEqual([`${cookieOf(req.sessionID)}; Path=/; HttpOnly; SameSite=Lax`]);

    const secure = setup({ options: { trustProxy: true } });
    const over = request();
    secure.lifecycle.generate(over, 'new-id');
    over.session.cookie.secure = true;
    (over.session as unknown as Record<string, unknown>).cart = 1;
    secure.lifecycle.beforeHeaders(over, stateOfRequest(over)!, { cookies: [], headers: {} });
    expect(secure.calls.httpsAsked).toEqual([true, true]);
  });
});
