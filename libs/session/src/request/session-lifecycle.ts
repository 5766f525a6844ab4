import { InternalServerErrorException } from '@nestjs/common';
import type { SessionData } from 'express-session';
import { SessionCookie } from '../cookie/session-cookie';
import { cookiePathMatches } from '../cookie/cookie-path';
import { looksSigned } from '../cookie/cookie-signature';
import { resolveSecure, type SecureSetting } from '../cookie/secure-cookie';
import { messages } from '../errors/session.messages';
import { SessionStoreUnavailableError } from '../errors/session-store-unavailable.error';
import { toHttpException } from '../errors/to-http-exception';
import { digestOf, newSessionId } from '../redis/session-id';
import type { SessionRenewal } from '../renewal/session-renewal';
import type { RedisSessionStore } from '../store/redis-session-store';
import type { SessionCore } from '../store/session-core';
import type { StoredSession } from '../store/store-ports';
import { attachState, stateOf as storeStateOf } from '../store/session-state';
import { putTrackedValues } from '../store/tracked-values';
import type { HttpPlatform, SessionRequest } from './http-platform';
import { RequestSession } from './request-session-class';
import { noSessionError, ownSession, OUTSIDE_COOKIE_PATH, STATE, type RequestLifecycle, type RequestSessionState, type StatefulRequest } from './request-state';
import { SessionIdTransport, type IdCarrier, type IdSourceMode } from './session-id-transport';
import { SessionWayOut, type LifecycleLogger } from './session-way-out';

/*
 * The session of one request, from the first byte to the last:
 *
 *   way in   ID?    ──no──▶ pending: `req.session` creates one on first read (most visitors never do)
 *              │ yes, signed
 *              ▼
 *            load (1 round trip: HGETALL) ──fails──▶ failed: reading `req.session` answers 503
 *              │ a slide of the idle timeout due (`touchAfter`)? sent now, not waited for
 *              │ absent/expired ──▶ pending, and the new session gets a new ID
 *              ▼
 *            live: `req.session` is an express-session Session
 *
 *   way out  writeHead, then end: `SessionWayOut` (the cookie or ID header, then the save)
 *
 * Everything this needs per request is one `RequestSessionState` under the `STATE` symbol
 * (`request-state.ts`). Where the ID comes from and goes to (cookie, header) is `SessionIdTransport`'s
 * business.
 */

/** Lifecycle options, resolved by `SessionModule`. */
export interface LifecycleOptions {
  secrets: string[];
  trustProxy?: boolean;
  cookie: { name: string; path: string; secure?: SecureSetting } & Record<string, unknown>;
  /** Where the session ID comes from (from `SessionModuleOptions.idFrom`). @default 'cookie' */
  idFrom?: IdSourceMode;
  /** The ID header's name when `idFrom` names one (`idFrom.header`). @default 'X-Session-Token' */
  header?: string;
  /**
   * True when the way in runs after middleware the app mounted itself (Nest's middleware consumer):
   * a read of `req.session` before it is then a wiring mistake, answered with an error naming the fix.
   */
  mountedLate?: boolean;
}

/** The lifecycle behind a `req.sessionStore`, for a read that comes before the way in. */
const LIFECYCLE = Symbol('nest-redis-session:lifecycle');

/**
 * The request side of sessions, built on express-session's own `Session` and `Cookie`, so
 * `req.session` behaves as express-session's does and passport keeps working. express-session's
 * request handler itself is not used: see the README's "How it works" for what it costs.
 */
export class SessionLifecycle implements RequestLifecycle {
  /** Shared by every request without an ID, one per carrier: a pending state with nothing of its own, so nothing to allocate. */
  private readonly pendingFresh: Record<IdCarrier, RequestSessionState>;
  readonly transport: SessionIdTransport;
  private readonly wayOut: SessionWayOut;
  private readonly cookieSettings: Record<string, unknown>;
  private readonly everyPath: boolean;
  private warnedReadTooEarly = false;

  constructor(
    private readonly options: LifecycleOptions,
    store: RedisSessionStore,
    readonly core: SessionCore,
    private readonly platform: HttpPlatform,
    private readonly logger: LifecycleLogger,
    /** Periodic ID renewal, when the `renewal` option is on: it loads each session on the way in. */
    private readonly renewal?: SessionRenewal,
  ) {
    const { name, ...settings } = options.cookie;
    this.cookieSettings = settings;
    this.everyPath = options.cookie.path === '/';
    this.transport = new SessionIdTransport(
      { idFrom: options.idFrom ?? 'cookie', header: options.header ?? 'X-Session-Token', cookieName: name, secrets: options.secrets },
      platform,
    );
    this.wayOut = new SessionWayOut(
      { cookieName: name, secrets: options.secrets, trustProxy: options.trustProxy, autoSecure: options.cookie.secure === 'auto' },
      this.transport,
      core,
      platform,
      logger,
    );
    const pending = (carrier: IdCarrier): RequestSessionState => ({ phase: 'pending', cookieId: undefined, carrier, ending: false, lifecycle: this });
    this.pendingFresh = { cookie: pending('cookie'), header: pending('header'), either: pending('either') };
    // What `req.sessionStore` is: the store, with the `generate` express-session's Store.regenerate calls,
    // and a `regenerate` (what express-session's Session#regenerate calls) that deletes the old session as
    // `SessionService.regenerate` does: counted as regenerated, and answering its callback whether the old
    // session's data may be carried over (see `regenerate` below), which `RequestSession.regenerate` reads.
    // and the `createSession` express-session's Session#reload calls, which must put the request's own
    // session class back (its `get`, `set`, promise forms) rather than a bare express-session Session.
    const sessionStore = Object.create(store) as RedisSessionStore & {
      generate(req: SessionRequest): void;
      regenerate(req: SessionRequest, callback: (error?: unknown, carried?: boolean) => void): void;
    };
    sessionStore.generate = (req) => this.generate(req, newSessionId());
    sessionStore.createSession = (req, data) => {
      createSession(req, data);
      return req.session;
    };
    sessionStore.regenerate = (req, callback) => {
      regenerate(req, { id: newSessionId() }).then(
        (carried) => {
          callback(undefined, carried);
        },
        (error: unknown) => {
          callback(error);
        },
      );
    };
    Object.defineProperty(sessionStore, LIFECYCLE, { value: this });
    platform.install(sessionStore);
  }

  /**
   * `req.session` read on a request the way in has not handled: undefined (a route without session
   * handling), or, when the module is mounted late, an error naming the fix, since then the likely
   * reader is `passport.session()` applied in main.ts, before the module's middleware.
   */
  readBeforeHandled(req: SessionRequest): undefined {
    if (!this.options.mountedLate) return undefined;
    if (!this.cookieReaches(req) && this.transport.cookieOnly) return undefined;
    const message = messages.sessionReadTooEarly();
    if (!this.warnedReadTooEarly) this.logger.error(message);
    this.warnedReadTooEarly = true;
    throw new InternalServerErrorException(message);
  }

  /** The way in: ends by calling `next` once the request's session is known (or known to be pending). */
  handle(req: SessionRequest, next: (error?: unknown) => void): void {
    const state = req as StatefulRequest;
    const cookieReaches = this.cookieReaches(req);
    if (!cookieReaches && this.transport.cookieOnly) {
      state[OUTSIDE_COOKIE_PATH] = this.options.cookie.path; // no ID can come here, nor a new one go back
      return next();
    }
    const { id: sessionId, raw, carrier } = this.transport.read(req, cookieReaches);
    if (sessionId === undefined) {
      if (raw && looksSigned(raw))
        this.logger.warn(carrier === 'header' ? messages.invalidHeaderSignature(this.transport.headerName) : messages.invalidSignature());
      state[STATE] = this.pendingFresh[carrier];
      return next();
    }
    // A near-cache hit goes on in this tick; under `renewal` every load may renew, which is async.
    let held: StoredSession | null | undefined;
    try {
      held = this.renewal ? undefined : this.core.reader.loadNow(sessionId);
    } catch (error) {
      return this.loadFailed(state, sessionId, carrier, error, next);
    }
    if (held !== undefined) return this.loaded(state, sessionId, carrier, held, next);
    (this.renewal ?? this.core.reader).load(sessionId).then(
      (data) => this.loaded(state, sessionId, carrier, data, next),
      (error: unknown) => this.loadFailed(state, sessionId, carrier, error, next),
    );
  }

  /**
   * Whether the browser sends the session cookie to this request's path. Outside `cookie.path` the
   * cookie neither arrives nor would come back, so only the ID header can carry a session there.
   */
  private cookieReaches(req: SessionRequest): boolean {
    return this.everyPath || cookiePathMatches(this.options.cookie.path, this.platform.path(req));
  }

  /** The way in, once the session is read: live when found, pending (a new ID if code wants one) when absent or expired. */
  private loaded(req: StatefulRequest, sessionId: string, carrier: IdCarrier, data: StoredSession | null, next: () => void): void {
    if (!data) {
      req[STATE] = { phase: 'pending', cookieId: sessionId, carrier, ending: false, lifecycle: this };
      return next();
    }
    req.sessionID = storeStateOf(data)?.renewedId ?? sessionId; // a renewed ID goes out as a new cookie
    createSession(req, data);
    req[STATE] = { phase: 'live', cookieId: sessionId, carrier, ending: false, lifecycle: this };
    next();
  }

  /** The way in, when Redis could not answer: whoever reads the session gets the 503. */
  private loadFailed(req: StatefulRequest, sessionId: string, carrier: IdCarrier, error: unknown, next: () => void): void {
    const failure =
      error instanceof SessionStoreUnavailableError ? error : new SessionStoreUnavailableError(String((error as Error)?.message ?? error), { cause: error });
    req[STATE] = { phase: 'failed', cookieId: sessionId, carrier, failure, ending: false, lifecycle: this };
    next();
  }

  /**
   * Puts a new, empty session with this ID on the request; the old one, if any, is left to the caller.
   * The old one's entry in its user's index comes along, so the new session's save moves it, and so
   * does its digest when it was stored, for the new session's first event (`previousDigest`).
   */
  generate(req: SessionRequest, id: string): void {
    const previous = ownSession(req);
    const previousState = previous && storeStateOf(previous);
    const indexEntry = previousState?.indexEntry;
    const formerUserId = previousState?.formerUserId;
    // A previous session never stored (itself from a regenerate) passes on the ID it left, still unannounced.
    const previousDigest = previousState?.stored ? digestOf(req.sessionID) : previousState?.previousDigest;
    req.sessionID = id;
    req.session = new RequestSession(req) as unknown as SessionRequest['session'];
    const cookie = new SessionCookie(this.cookieSettings);
    cookie.secure = resolveSecure(this.options.cookie.secure, this.platform.isHttps(req, this.options.trustProxy));
    req.session.cookie = cookie;
    if (indexEntry) this.core.context.stateFor(req.session).indexEntry = indexEntry;
    if (formerUserId) this.core.context.stateFor(req.session).formerUserId = formerUserId;
    if (previousDigest) this.core.context.stateFor(req.session).previousDigest = previousDigest;
    const state = (req as StatefulRequest)[STATE];
    if (state?.phase === 'live') return; // a regenerate: the way out is already set up
    const carrier = state?.carrier ?? this.transport.defaultCarrier;
    (req as StatefulRequest)[STATE] = { phase: 'live', cookieId: state?.cookieId, carrier, ending: false, lifecycle: this };
  }

  /** Logout: a cookie that expired long ago replaces the session's in the browser, with the same attributes. */
  clearCookie(req: SessionRequest): void {
    const res = this.platform.responseOf(req);
    if (!res) return;
    const { name, maxAge: _maxAge, expires: _expires, secure, ...settings } = this.options.cookie;
    const cookie = new SessionCookie({ ...settings, secure: resolveSecure(secure, this.platform.isHttps(req, this.options.trustProxy)) });
    cookie.expires = new Date(1);
    // express-session's Cookie serializes itself; its typings leave the method out.
    this.platform.appendCookie(res, (cookie as unknown as { serialize(name: string, value: string): string }).serialize(name, ''));
  }

  /** The way out, with the headers (see `SessionWayOut.beforeHeaders`). */
  beforeHeaders(req: SessionRequest, state: RequestSessionState, res: object): void {
    this.wayOut.beforeHeaders(req, state, res);
  }

  /** The way out, at `end` (see `SessionWayOut.beforeEnd`); answers what `end` should return. */
  beforeEnd(req: SessionRequest, state: RequestSessionState, res: object, finish: () => unknown): unknown {
    return this.wayOut.beforeEnd(req, state, res, finish);
  }

  dropSecondAnswer(req: SessionRequest, state: RequestSessionState): void {
    this.wayOut.dropSecondAnswer(req, state);
  }
}

/**
 * What `req.session` reads on a request that has no session of its own (the prototype accessor): the
 * pending session, created now; a 503 when Redis failed; undefined otherwise.
 */
export function sessionOnFirstRead(req: SessionRequest): SessionRequest['session'] | undefined {
  const state = (req as StatefulRequest)[STATE];
  if (!state) return (req as { sessionStore?: { [LIFECYCLE]?: SessionLifecycle } }).sessionStore?.[LIFECYCLE]?.readBeforeHandled(req);
  // A live request reads this only once its session was ended (a logout, `destroy`): a new one starts,
  // as for a visitor without one, unless the response is already on its way out.
  if (state.phase === 'live' && state.ending) return undefined;
  if (state.phase === 'failed') throw toHttpException(state.failure);
  state.lifecycle.generate(req, newSessionId());
  return ownSession(req);
}

/**
 * Gives the request's session a new ID (`id`) and a fresh cookie, deleting the old one in Redis; its
 * data is the caller's to carry over. express-session's `regenerate` would pick the ID itself.
 *
 * Answers false when the old session may not be carried over: it had been stored, and was gone when
 * this request came to delete it, so a logout, a revoke or "log out everywhere" ended it since this
 * request read it (or it expired). Carrying its data (its user) to the new ID would undo that end;
 * the new session then starts empty and outside any user's index.
 */
export async function regenerate(req: SessionRequest, { id }: { id: string }): Promise<boolean> {
  const state = (req as StatefulRequest)[STATE];
  if (!state) throw noSessionError(req);
  const old = ownSession(req);
  let carried = true;
  if (old) {
    // A logged-in session's entry in its user's index moves with it at the new ID's first save, which
    // the old key's `moving` mark lets happen only while no logout, revoke or "log out everywhere" ended it.
    const oldState = storeStateOf(old);
    const entry = oldState?.indexEntry;
    const endedId = await state.lifecycle.core.admin.destroyRegenerated(req.sessionID, entry !== undefined);
    carried = endedId !== undefined || !oldState?.stored;
    // Not carried: neither its index entry nor its digest goes to the new session.
    if (!carried) Reflect.deleteProperty(req, 'session');
    // Renewed meanwhile (another replica): the index holds the successor's digest, the entry the save moves.
    if (oldState && entry && endedId !== undefined && endedId !== req.sessionID) oldState.indexEntry = { ...entry, digest: digestOf(endedId) };
  }
  state.lifecycle.generate(req, id);
  return carried;
}

/**
 * Puts a session read from Redis on the request, as express-session's Store.createSession does, with
 * a `SessionCookie` and the store's bookkeeping carried over.
 */
export function createSession(req: SessionRequest, data: SessionData): void {
  const state = storeStateOf(data);
  const { originalMaxAge } = data.cookie;
  const cookie = new SessionCookie(data.cookie);
  cookie.originalMaxAge = originalMaxAge;
  if (!state) {
    data.cookie = cookie;
    req.session = new RequestSession(req, data) as unknown as SessionRequest['session'];
    return;
  }
  const session = new RequestSession(req) as unknown as SessionRequest['session'];
  attachState(session, state);
  putTrackedValues(session, data, state);
  session.cookie = cookie; // last, where express-session's copy of the data puts it
  req.session = session;
}
