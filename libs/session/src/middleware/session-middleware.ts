import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { Cookie, Session } from 'express-session';
import { messages } from '../errors/session.messages';
import type { ResolvedSessionOptions } from '../options/resolved-options';
import type { RedisSessionStore } from '../store/redis-session-store';
import { newSessionId } from '../store/session-key';
import { commitOnResponse, installResponseHooks } from './commit-on-response';
import { looksSigned, readCookie, VerifiedCookies } from './cookie-signature';
import { createOnRead, failOnRead, installSessionAccessor } from './lazy-session';
import { isSecureRequest } from './secure-request';

const NEXT_ID = Symbol('nest-redis-session:next-id');

type Logger = { warn(message: string): void; error(message: string): void };
type IdRequest = Request & { [NEXT_ID]?: string };
type SessionClass = new (req: Request) => Session;
type CookieClass = new (options: object) => Cookie;

/** Makes the next session generated for this request take the given ID (login picks it in advance). */
export function useSessionIdNext(req: Request, id: string): void {
  (req as IdRequest)[NEXT_ID] = id;
}

/**
 * The request side of sessions, built on express-session's own `Session`, `Cookie` and `Store`, so
 * `req.session` (regenerate, save, reload, destroy, touch) behaves as express-session's does and
 * passport and the rest of its ecosystem keep working. express-session's request handler itself is
 * not used, for what it costs and what it gets wrong behind a load balancer:
 * - it hashes the whole session three times per request to spot changes; the store's per-field
 *   diff already knows, once, at the end;
 * - it builds a session for every cookie-less visitor; here none exists until code reads it;
 * - it treats every request as anonymous while Redis is down; here reading the session answers 503;
 * - a save that fails after the answer was sent goes unnoticed; here the client sees the failure.
 */
export function createSessionMiddleware(
  options: Pick<ResolvedSessionOptions, 'secrets' | 'cookie' | 'trustProxy'>,
  store: RedisSessionStore,
  logger: Logger,
  app: { request: object; response: object },
): RequestHandler {
  const { name, ...cookieOptions } = options.cookie;
  const { secrets, trustProxy } = options;
  const cookies = new VerifiedCookies(secrets);
  const commit = { cookieName: name, secret: secrets[0], trustProxy, logger, store };
  installSessionAccessor(app.request);
  installResponseHooks(app.response);

  // What `req.sessionStore` is for express-session's Session methods: the store, plus the
  // `generate` that express-session's middleware would have added (regenerate calls it).
  const sessionStore = Object.create(store) as RedisSessionStore & { generate(req: Request): void };
  sessionStore.generate = (req: Request) => {
    const chosen = (req as IdRequest)[NEXT_ID];
    (req as IdRequest)[NEXT_ID] = undefined;
    req.sessionID = chosen ?? newSessionId();
    req.session = new (Session as unknown as SessionClass)(req) as Request['session'];
    const cookie = new (Cookie as unknown as CookieClass)(cookieOptions);
    if (cookieOptions.secure === 'auto') cookie.secure = isSecureRequest(req, trustProxy);
    req.session.cookie = cookie;
  };

  /** Creates a new session for the request, and the hooks that store it and send its cookie. */
  const startSession = (req: Request, cookieId?: string) => {
    sessionStore.generate(req);
    commitOnResponse(req, req.res!, cookieId, commit);
  };
  const startFreshSession = (req: Request) => startSession(req, undefined);
  // Every request of the app sees the same store: a prototype property, not one more per request.
  Object.defineProperty(app.request, 'sessionStore', { value: sessionStore, writable: true, configurable: true });
  const everyPath = cookieOptions.path === '/';

  return function nestRedisSession(req: Request, res: Response, next: NextFunction): void {
    if (!everyPath && !req.originalUrl.startsWith(cookieOptions.path)) return next(); // the cookie would not be sent here
    const raw = readCookie(req.headers.cookie, name);
    const sessionId = raw ? cookies.idOf(raw) : undefined;
    if (sessionId === undefined) {
      if (raw && looksSigned(raw)) logger.warn(messages.invalidSignature());
      createOnRead(req, startFreshSession);
      return next();
    }
    store.get(sessionId).then(
      (data) => {
        if (!data) {
          // Unknown or expired: a session is made only if code wants one, and gets a new ID.
          createOnRead(req, (pending) => startSession(pending, sessionId));
          return next();
        }
        req.sessionID = sessionId;
        store.createSession(req, data);
        commitOnResponse(req, res, sessionId, commit);
        next();
      },
      (error: unknown) => {
        failOnRead(req, error);
        next();
      },
    );
  };
}
