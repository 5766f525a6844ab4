import { InternalServerErrorException } from '@nestjs/common';
import { Session, type SessionData } from 'express-session';
import { SessionCookie } from '../cookie/session-cookie';
import { looksSigned, signCookie } from '../cookie/cookie-signature';
import { resolveSecure, type SecureSetting } from '../cookie/secure-cookie';
import { messages } from '../errors/session.messages';
import { SessionDataError } from '../errors/session-data.error';
import { SessionStoreUnavailableError } from '../errors/session-store-unavailable.error';
import { toHttpException } from '../errors/to-http-exception';
import { digestOf, newSessionId } from '../redis/session-id';
import type { SessionRenewal } from '../renewal/session-renewal';
import type { RedisSessionStore } from '../store/redis-session-store';
import type { SessionPersistence, StoredSession } from '../store/session-persistence';
import { checkSessionObject } from '../store/session-validation';
import { attachState, stateOf as storeStateOf } from '../store/session-state';
import type { HttpPlatform, SessionRequest } from './http-platform';
import { SessionIdTransport, type IdCarrier, type SessionIdSource } from './session-id-transport';

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
 *   way out  writeHead ─▶ Set-Cookie if the session is new (and holds data) or its cookie persistent;
 *                         the ID header instead, or as well, as the request's carrier says (`idFrom`)
 *            end       ─▶ save only the changed fields (or wait for the slide), then end; a failed
 *                         save or slide answers 503, or cuts a streamed response, so a lost change
 *                         is never reported as a success
 *
 * Everything this needs per request is one `RequestSessionState` under the `STATE` symbol. Where the
 * ID comes from and goes to (cookie, header) is `SessionIdTransport`'s business.
 */

/** Lifecycle options, resolved by `SessionModule`. */
export interface LifecycleOptions {
  secrets: string[];
  trustProxy?: boolean;
  cookie: { name: string; path: string; secure?: SecureSetting } & Record<string, unknown>;
  /** Where the session ID comes from (see `SessionModuleOptions.idFrom`). @default 'cookie' */
  idFrom?: SessionIdSource;
  /** The ID header's name under `idFrom` 'header' or 'both'. @default 'X-Session-Token' */
  header?: string;
  /**
   * True when the way in runs after middleware the app mounted itself (Nest's middleware consumer):
   * a read of `req.session` before it is then a wiring mistake, answered with an error naming the fix.
   */
  mountedLate?: boolean;
}

type Logger = { warn(message: string): void; error(message: string): void };

export const STATE = Symbol('nest-redis-session:request');
/** The lifecycle behind a `req.sessionStore`, for a read that comes before the way in. */
const LIFECYCLE = Symbol('nest-redis-session:lifecycle');

/** What the lifecycle knows about one request. */
export interface RequestSessionState {
  /** pending: no session until code reads `req.session`; live: on the request, saved on the way out; failed: Redis could not load it. */
  phase: 'pending' | 'live' | 'failed';
  /** The ID the request's cookie (or ID header) carried; a session under another ID is new. */
  cookieId: string | undefined;
  /** How the request carried its ID, so how its response announces a new one. */
  carrier: IdCarrier;
  /** Why loading failed, thrown (as a 503) at whoever reads the session. */
  failure?: unknown;
  /** Set once the save at the end has started, so the final `end` goes straight through. */
  ending: boolean;
  /** The Set-Cookie value, prepared (and checked) before the save, so sending the headers cannot fail. */
  setCookie?: string;
  /** The ID header's value, prepared with the cookie: the signed new ID, or '' once the session is gone. */
  idHeader?: string;
  lifecycle: SessionLifecycle;
}

type StatefulRequest = SessionRequest & { [STATE]?: RequestSessionState };
type SessionClass = new (req: SessionRequest) => Session;

/**
 * The request side of sessions, built on express-session's own `Session` and `Cookie`, so
 * `req.session` behaves as express-session's does and passport keeps working. express-session's
 * request handler itself is not used: see the README's "How it works" for what it costs.
 */
export class SessionLifecycle {
  /** Shared by every request without an ID, one per carrier: a pending state with nothing of its own, so nothing to allocate. */
  private readonly pendingFresh: Record<IdCarrier, RequestSessionState>;
  readonly transport: SessionIdTransport;
  private readonly cookieName: string;
  private readonly cookieSettings: Record<string, unknown>;
  private readonly everyPath: boolean;
  private warnedReadTooEarly = false;
  /** What `req.sessionStore` is: the store plus the `generate` express-session's Store.regenerate calls. */
  readonly sessionStore: RedisSessionStore & { generate(req: SessionRequest): void };

  constructor(
    private readonly options: LifecycleOptions,
    store: RedisSessionStore,
    readonly persistence: SessionPersistence,
    private readonly platform: HttpPlatform,
    private readonly logger: Logger,
    /** Periodic ID renewal, when the `renewal` option is on: it loads each session on the way in. */
    private readonly renewal?: SessionRenewal,
  ) {
    const { name, ...settings } = options.cookie;
    this.cookieName = name;
    this.cookieSettings = settings;
    this.everyPath = options.cookie.path === '/';
    this.transport = new SessionIdTransport(
      { idFrom: options.idFrom ?? 'cookie', header: options.header ?? 'X-Session-Token', cookieName: name, secrets: options.secrets },
      platform,
    );
    const pending = (carrier: IdCarrier): RequestSessionState => ({ phase: 'pending', cookieId: undefined, carrier, ending: false, lifecycle: this });
    this.pendingFresh = { cookie: pending('cookie'), header: pending('header'), either: pending('either') };
    this.sessionStore = Object.create(store) as RedisSessionStore & { generate(req: SessionRequest): void };
    this.sessionStore.generate = (req) => this.generate(req, newSessionId());
    Object.defineProperty(this.sessionStore, LIFECYCLE, { value: this });
    platform.install(this.sessionStore);
  }

  /**
   * `req.session` read on a request the way in has not handled: undefined (a route without session
   * handling), or, when the module is mounted late, an error naming the fix, since then the likely
   * reader is `passport.session()` applied in main.ts, before the module's middleware.
   */
  readBeforeHandled(req: SessionRequest): undefined {
    if (!this.options.mountedLate) return undefined;
    if (!this.everyPath && !this.platform.path(req).startsWith(this.options.cookie.path)) return undefined;
    const message = messages.sessionReadTooEarly();
    if (!this.warnedReadTooEarly) this.logger.error(message);
    this.warnedReadTooEarly = true;
    throw new InternalServerErrorException(message);
  }

  /** The way in: ends by calling `next` once the request's session is known (or known to be pending). */
  handle(req: SessionRequest, next: (error?: unknown) => void): void {
    const state = req as StatefulRequest;
    if (!this.everyPath && !this.platform.path(req).startsWith(this.options.cookie.path)) return next(); // the cookie is not sent here
    const { id: sessionId, raw, carrier } = this.transport.read(req);
    if (sessionId === undefined) {
      if (raw && looksSigned(raw))
        this.logger.warn(carrier === 'header' ? messages.invalidHeaderSignature(this.transport.headerName) : messages.invalidSignature());
      state[STATE] = this.pendingFresh[carrier];
      return next();
    }
    // A near-cache hit goes on in this tick; under `renewal` every load may renew, which is async.
    let held: StoredSession | null | undefined;
    try {
      held = this.renewal ? undefined : this.persistence.loadNow(sessionId);
    } catch (error) {
      return this.loadFailed(state, sessionId, carrier, error, next);
    }
    if (held !== undefined) return this.loaded(state, sessionId, carrier, held, next);
    (this.renewal ?? this.persistence).load(sessionId).then(
      (data) => this.loaded(state, sessionId, carrier, data, next),
      (error: unknown) => this.loadFailed(state, sessionId, carrier, error, next),
    );
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
    const previousDigest = previousState?.stored ? digestOf(req.sessionID) : undefined;
    req.sessionID = id;
    req.session = new (Session as unknown as SessionClass)(req) as SessionRequest['session'];
    const cookie = new SessionCookie(this.cookieSettings);
    cookie.secure = resolveSecure(this.options.cookie.secure, this.platform.isHttps(req, this.options.trustProxy));
    req.session.cookie = cookie;
    if (indexEntry) this.persistence.stateFor(req.session).indexEntry = indexEntry;
    if (previousDigest) this.persistence.stateFor(req.session).previousDigest = previousDigest;
    const state = (req as StatefulRequest)[STATE];
    if (state?.phase === 'live') return; // a regenerate: the way out is already set up
    const carrier = state?.carrier ?? this.transport.defaultCarrier;
    (req as StatefulRequest)[STATE] = { phase: 'live', cookieId: state?.cookieId, carrier, ending: false, lifecycle: this };
  }

  /**
   * The way out, part 1 (with the headers): the cookie, when the browser needs to hear about it. It
   * was prepared by `beforeEnd` unless the handler sent its headers before ending (a stream); then a
   * cookie that cannot be written cuts this response, never the process.
   */
  beforeHeaders(req: SessionRequest, state: RequestSessionState, res: object): void {
    let setCookie = state.setCookie;
    let idHeader = state.idHeader;
    if (setCookie === undefined && !state.ending) {
      try {
        const session = ownSession(req);
        if (session) checkSessionObject(session, true);
        setCookie = session && this.cookieFor(req, state, session);
        idHeader = this.idHeaderFor(req, state, session);
      } catch (error) {
        this.failAfterHeaders(req, state, res, error);
        return;
      }
    }
    if (setCookie) this.platform.appendCookie(res, setCookie);
    if (idHeader !== undefined) this.platform.setHeader(res, this.transport.headerName, idHeader);
  }

  /**
   * The way out, part 2 (at `end`): checks the session, prepares its cookie, saves the changes, then
   * lets the response finish. Anything the session holds that cannot be saved or sent answers this
   * request with the library's error (nothing written), never the process. Answers what `end` should
   * return.
   */
  beforeEnd(req: SessionRequest, state: RequestSessionState, res: object, finish: () => unknown): unknown {
    state.ending = true;
    const session = ownSession(req);
    if (!session) state.idHeader = this.idHeaderFor(req, state, undefined); // destroyed: a header client drops its token
    if (!session || this.answersStoreFailure(res)) return finish();
    let saving: Promise<void> | null;
    try {
      checkSessionObject(session, true);
      state.idHeader = this.idHeaderFor(req, state, session);
      if (req.sessionID !== state.cookieId && !hasData(session)) return finish();
      session.touch(); // a persistent cookie's expiry slides with every request, as express-session does
      state.setCookie = this.cookieFor(req, state, session);
      saving = this.persistence.saveChanges(req.sessionID, session);
    } catch (error) {
      this.failBeforeHeaders(req, state, res, error);
      return res;
    }
    if (!saving) return this.adoptRenewedId(req, state, session, res) ? finish() : res;
    saving.then(
      () => {
        if (this.adoptRenewedId(req, state, session, res)) finishSafely(this.logger, finish);
      },
      (error: unknown) => this.failBeforeHeaders(req, state, res, error),
    );
    return res;
  }

  /**
   * The save (or an `update`) found the session renewed while this request ran, here or on another
   * replica, and wrote to its successor: the response carries the new ID (cookie or header), as after a `regenerate`,
   * instead of setting the old one back. Only after the save: under the new ID before it, the save
   * would rewrite the whole session over the successor. Answers false when the response failed instead.
   */
  private adoptRenewedId(req: SessionRequest, state: RequestSessionState, session: SessionRequest['session'], res: object): boolean {
    const renewedId = storeStateOf(session)?.renewedId;
    if (renewedId === undefined || renewedId === req.sessionID) return true;
    req.sessionID = renewedId;
    try {
      state.setCookie = this.cookieFor(req, state, session);
      state.idHeader = this.idHeaderFor(req, state, session); // a header client hears of it as a cookie client does
      return true;
    } catch (error) {
      this.failBeforeHeaders(req, state, res, error);
      return false;
    }
  }

  /**
   * A 503 while Redis is failing (a call failed within the last `commandTimeout`): most likely the
   * handler's own session call just timed out. Saving would make the client wait a second
   * `commandTimeout` for an answer that is already an error, and a failed request is not meant to
   * change the session; so the way out does not call Redis again.
   */
  private answersStoreFailure(res: object): boolean {
    return this.platform.statusCode(res) === 503 && this.persistence.gateway.recentlyUnavailable();
  }

  /** The Set-Cookie value for this response, or undefined when the browser has nothing to learn. */
  private cookieFor(req: SessionRequest, state: RequestSessionState, session: SessionRequest['session']): string | undefined {
    if (state.carrier === 'header') return undefined; // a header client gets no cookie, whatever its browser may hold
    const isNew = req.sessionID !== state.cookieId;
    if (isNew ? !hasData(session) : session.cookie.expires == null) return undefined;
    if (session.cookie.secure && !this.platform.isHttps(req, this.options.trustProxy)) return undefined;
    // express-session's Cookie serializes itself; its typings leave the method out.
    const cookie = session.cookie as unknown as { serialize(name: string, value: string): string };
    try {
      return cookie.serialize(this.cookieName, signCookie(req.sessionID, this.options.secrets[0]));
    } catch (error) {
      throw new SessionDataError(messages.unwritableCookie((error as Error)?.message ?? String(error)), 'cookie');
    }
  }

  /**
   * The ID header's value for this response, or undefined when it sends none: the signed ID of a new
   * session that holds data (a first session, a login, any new ID), or '' when the ID the request came
   * with is dead and no new one is kept (logout, destroy, a regenerate that left nothing to store).
   * Nothing for a cookie request, nor for an unchanged ID: a header has no expiry to slide.
   */
  private idHeaderFor(req: SessionRequest, state: RequestSessionState, session: SessionRequest['session'] | undefined): string | undefined {
    if (state.carrier === 'cookie' || (session && req.sessionID === state.cookieId)) return undefined;
    if (session && hasData(session)) return this.transport.signed(req.sessionID);
    return state.cookieId === undefined ? undefined : '';
  }

  /** Replaces the handler's answer with the error's (its body and headers are not out yet). */
  private failBeforeHeaders(req: SessionRequest, state: RequestSessionState, res: object, error: unknown): void {
    this.logFailure(req, error);
    state.phase = 'failed'; // this answer is final: the error's end must not save again
    state.failure = error;
    state.setCookie = undefined;
    state.idHeader = undefined;
    try {
      this.platform.fail(res, toHttpException(error), error);
    } catch (failError) {
      this.logger.error(`Answering the failure of ${this.platform.describe(req)} failed too: ${(failError as Error)?.message}`);
    }
  }

  /** Headers are going out as this runs: the answer cannot change any more, so the response is cut. */
  private failAfterHeaders(req: SessionRequest, state: RequestSessionState, res: object, error: unknown): void {
    state.setCookie = undefined;
    state.idHeader = undefined;
    state.ending = true; // the end must not save what could not be announced
    queueMicrotask(() => this.failBeforeHeaders(req, state, res, error)); // headers are sent by then: `fail` cuts
  }

  private logFailure(req: SessionRequest, error: unknown): void {
    const cause = (error as Error)?.cause as Error | undefined;
    const detail = cause?.message ? ` (${cause.message})` : '';
    this.logger.error(`Saving the session at the end of ${this.platform.describe(req)} failed: ${(error as Error)?.message}${detail}`);
  }
}

/** Counts a request answered 503 because its session could not be loaded or saved (metrics only). */
export function noteUnavailable(state: RequestSessionState): void {
  state.lifecycle.persistence.observer?.requestUnavailable?.();
}

/** The lifecycle state of a request, or undefined where no session handling is mounted. */
export function stateOf(req: object): RequestSessionState | undefined {
  return (req as StatefulRequest)[STATE];
}

/**
 * What `req.session` reads on a request that has no session of its own (the prototype accessor): the
 * pending session, created now; a 503 when Redis failed; undefined otherwise.
 */
export function sessionOnFirstRead(req: SessionRequest): SessionRequest['session'] | undefined {
  const state = (req as StatefulRequest)[STATE];
  if (!state) return (req as { sessionStore?: { [LIFECYCLE]?: SessionLifecycle } }).sessionStore?.[LIFECYCLE]?.readBeforeHandled(req);
  if (state.phase === 'live') return undefined;
  if (state.phase === 'failed') throw toHttpException(state.failure);
  state.lifecycle.generate(req, newSessionId());
  return ownSession(req);
}

/**
 * Gives the request's session a new ID (`id`) and a fresh cookie, deleting the old one in Redis; its
 * data is the caller's to carry over. express-session's `regenerate` would pick the ID itself.
 */
export async function regenerate(req: SessionRequest, { id }: { id: string }): Promise<void> {
  const state = (req as StatefulRequest)[STATE];
  if (!state) throw new Error(messages.noSession());
  if (ownSession(req)) await state.lifecycle.persistence.destroy(req.sessionID, 'regenerated');
  state.lifecycle.generate(req, id);
}

/** The session the request holds itself: undefined once destroyed, and never created by asking. */
export function ownSession(req: object): SessionRequest['session'] | undefined {
  return Object.prototype.hasOwnProperty.call(req, 'session') ? (req as SessionRequest).session : undefined;
}

/**
 * Puts a session read from Redis on the request, as express-session's Store.createSession does, with
 * a `SessionCookie` and the store's bookkeeping carried over.
 */
function createSession(req: SessionRequest, data: SessionData): void {
  const state = storeStateOf(data);
  const { originalMaxAge } = data.cookie;
  data.cookie = new SessionCookie(data.cookie);
  data.cookie.originalMaxAge = originalMaxAge;
  req.session = new (Session as unknown as new (req: SessionRequest, data: SessionData) => SessionRequest['session'])(req, data);
  if (state) attachState(req.session, state);
}

/** A new session is stored (and gets a cookie) only once it holds something of its own. */
function hasData(session: object): boolean {
  for (const key in session) if (key !== 'cookie' && Object.prototype.hasOwnProperty.call(session, key)) return true;
  return false;
}

/** Ends the response; a throw from there is logged, never an unhandled rejection that stops the process. */
function finishSafely(logger: Logger, finish: () => unknown): void {
  try {
    finish();
  } catch (error) {
    logger.error(`Ending a response after saving its session failed: ${(error as Error)?.message}`);
  }
}
