import { Cookie, Session } from 'express-session';
import { looksSigned, readCookie, signCookie, VerifiedCookies } from '../cookie/cookie-signature';
import { resolveSecure, type SecureSetting } from '../cookie/secure-cookie';
import { messages } from '../errors/session.messages';
import { SessionStoreUnavailableError } from '../errors/session-store-unavailable.error';
import { toHttpException } from '../errors/to-http-exception';
import { newSessionId } from '../redis/session-id';
import type { RedisSessionStore } from '../store/redis-session-store';
import type { SessionPersistence } from '../store/session-persistence';
import type { HttpPlatform, SessionRequest } from './http-platform';

/*
 * The session of one request, from the first byte to the last:
 *
 *   way in   cookie? ──no──▶ pending: `req.session` creates one on first read (most visitors never do)
 *              │ yes, signed
 *              ▼
 *            load (1 round trip, slides expiry) ──fails──▶ failed: reading `req.session` answers 503
 *              │ absent/expired ──▶ pending, and the new session gets a new ID
 *              ▼
 *            live: `req.session` is an express-session Session
 *
 *   way out  writeHead ─▶ Set-Cookie if the session is new (and holds data) or its cookie persistent
 *            end       ─▶ save only the changed fields, then end; a failed save answers 503, or cuts
 *                         a streamed response, so a lost change is never reported as a success
 *
 * Everything this needs per request is one `RequestSessionState` under the `STATE` symbol.
 */

/** Lifecycle options, resolved by `SessionModule`. */
export interface LifecycleOptions {
  secrets: string[];
  trustProxy?: boolean;
  cookie: { name: string; path: string; secure?: SecureSetting } & Record<string, unknown>;
}

type Logger = { warn(message: string): void; error(message: string): void };

export const STATE = Symbol('nest-redis-session:request');

/** What the lifecycle knows about one request. */
export interface RequestSessionState {
  /** pending: no session until code reads `req.session`; live: on the request, saved on the way out; failed: Redis could not load it. */
  phase: 'pending' | 'live' | 'failed';
  /** The ID the request's cookie carried and Redis knew; a session under another ID is new. */
  cookieId: string | undefined;
  /** Why loading failed, thrown (as a 503) at whoever reads the session. */
  failure?: unknown;
  /** Set once the save at the end has started, so the final `end` goes straight through. */
  ending: boolean;
  lifecycle: SessionLifecycle;
}

type StatefulRequest = SessionRequest & { [STATE]?: RequestSessionState };
type SessionClass = new (req: SessionRequest) => Session;
type CookieClass = new (options: object) => Cookie;

/**
 * The request side of sessions, built on express-session's own `Session` and `Cookie`, so
 * `req.session` behaves as express-session's does and passport keeps working. express-session's
 * request handler itself is not used: see the README's "How it works" for what it costs.
 */
export class SessionLifecycle {
  /** Shared by every cookie-less request: a pending state with nothing of its own, so nothing to allocate. */
  private readonly pendingFresh: RequestSessionState;
  private readonly cookies: VerifiedCookies;
  private readonly cookieName: string;
  private readonly cookieSettings: Record<string, unknown>;
  private readonly everyPath: boolean;
  /** What `req.sessionStore` is: the store plus the `generate` express-session's Store.regenerate calls. */
  readonly sessionStore: RedisSessionStore & { generate(req: SessionRequest): void };

  constructor(
    private readonly options: LifecycleOptions,
    store: RedisSessionStore,
    private readonly persistence: SessionPersistence,
    private readonly platform: HttpPlatform,
    private readonly logger: Logger,
  ) {
    const { name, ...settings } = options.cookie;
    this.cookieName = name;
    this.cookieSettings = settings;
    this.everyPath = options.cookie.path === '/';
    this.cookies = new VerifiedCookies(options.secrets);
    this.pendingFresh = { phase: 'pending', cookieId: undefined, ending: false, lifecycle: this };
    this.sessionStore = Object.create(store);
    this.sessionStore.generate = (req) => this.generate(req, newSessionId());
    platform.install(this.sessionStore);
  }

  /** The way in: ends by calling `next` once the request's session is known (or known to be pending). */
  handle(req: SessionRequest, next: (error?: unknown) => void): void {
    const state = req as StatefulRequest;
    if (!this.everyPath && !this.platform.path(req).startsWith(this.options.cookie.path)) return next(); // the cookie is not sent here
    const raw = readCookie(this.platform.cookieHeader(req), this.cookieName);
    const sessionId = raw ? this.cookies.idOf(raw) : undefined;
    if (sessionId === undefined) {
      if (raw && looksSigned(raw)) this.logger.warn(messages.invalidSignature());
      state[STATE] = this.pendingFresh;
      return next();
    }
    this.persistence.load(sessionId).then(
      (data) => {
        if (!data) {
          // Unknown or expired: a session is made only if code wants one, and gets a new ID.
          state[STATE] = { phase: 'pending', cookieId: sessionId, ending: false, lifecycle: this };
          return next();
        }
        req.sessionID = sessionId;
        this.sessionStore.createSession(req as never, data);
        state[STATE] = { phase: 'live', cookieId: sessionId, ending: false, lifecycle: this };
        next();
      },
      (error: unknown) => {
        const failure =
          error instanceof SessionStoreUnavailableError
            ? error
            : new SessionStoreUnavailableError(String((error as Error)?.message ?? error), { cause: error });
        state[STATE] = { phase: 'failed', cookieId: sessionId, failure, ending: false, lifecycle: this };
        next();
      },
    );
  }

  /** Puts a new, empty session with this ID on the request; the old one, if any, is left to the caller. */
  generate(req: SessionRequest, id: string): void {
    req.sessionID = id;
    req.session = new (Session as unknown as SessionClass)(req) as SessionRequest['session'];
    const cookie = new (Cookie as unknown as CookieClass)(this.cookieSettings);
    cookie.secure = resolveSecure(this.options.cookie.secure, this.platform.isHttps(req, this.options.trustProxy));
    req.session.cookie = cookie;
    const state = (req as StatefulRequest)[STATE];
    if (state?.phase === 'live') return; // a regenerate: the way out is already set up
    (req as StatefulRequest)[STATE] = { phase: 'live', cookieId: state?.cookieId, ending: false, lifecycle: this };
  }

  /** The way out, part 1 (with the headers): the cookie, when the browser needs to hear about it. */
  beforeHeaders(req: SessionRequest, state: RequestSessionState, res: object): void {
    const session = ownSession(req);
    if (!session) return;
    const isNew = req.sessionID !== state.cookieId;
    if (isNew ? !hasData(session) : session.cookie.expires == null) return; // nothing to tell the browser
    if (session.cookie.secure && !this.platform.isHttps(req, this.options.trustProxy)) return;
    session.touch();
    // express-session's Cookie serializes itself; its typings leave the method out.
    const cookie = session.cookie as unknown as { serialize(name: string, value: string): string };
    this.platform.appendCookie(res, cookie.serialize(this.cookieName, signCookie(req.sessionID, this.options.secrets[0])));
  }

  /**
   * The way out, part 2 (at `end`): saves the changes, then lets the response finish. Answers what
   * `end` should return, or undefined when it should end at once.
   */
  beforeEnd(req: SessionRequest, state: RequestSessionState, res: object, finish: () => unknown): unknown {
    state.ending = true;
    const session = ownSession(req);
    if (!session || (req.sessionID !== state.cookieId && !hasData(session))) return finish();
    session.touch(); // a persistent cookie's expiry slides with every request, as express-session does
    const saving = this.persistence.saveChanges(req.sessionID, session);
    if (!saving) return finish();
    saving.then(finish, (error: unknown) => {
      this.logger.error(`Saving the session at the end of ${this.platform.describe(req)} failed: ${(error as Error)?.message}`);
      state.phase = 'failed'; // this answer is final: the error's end must not save again
      state.failure = error;
      this.platform.fail(res, toHttpException(error), error);
    });
    return res;
  }
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
  if (!state || state.phase === 'live') return undefined;
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
  if (ownSession(req)) await state.lifecycle.sessionStore.destroy(req.sessionID);
  state.lifecycle.generate(req, id);
}

/** The session the request holds itself: undefined once destroyed, and never created by asking. */
export function ownSession(req: object): SessionRequest['session'] | undefined {
  return Object.prototype.hasOwnProperty.call(req, 'session') ? (req as SessionRequest).session : undefined;
}

/** A new session is stored (and gets a cookie) only once it holds something. */
function hasData(session: object): boolean {
  for (const key in session) if (key !== 'cookie') return true;
  return false;
}
