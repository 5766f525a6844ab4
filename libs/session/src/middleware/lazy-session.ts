import type { Request } from 'express';
import { messages } from '../errors/session.messages';
import { SessionStoreUnavailableError } from '../errors/session-store-unavailable.error';
import { toHttpException } from '../errors/to-http-exception';

/** Set on a request whose session is created on first read of `req.session`. */
const CREATE_ON_READ = Symbol('nest-redis-session:create-on-read');
/** Set on a request whose session could not be loaded: reading it throws this error. */
const LOAD_FAILURE = Symbol('nest-redis-session:load-failure');

type Materialize = (req: Request) => void;
type SessionRequest = Request & { [CREATE_ON_READ]?: Materialize; [LOAD_FAILURE]?: unknown };

const installed = new WeakSet<object>();

/**
 * Puts a `session` accessor on the app's request prototype, once. A request that has its session
 * gets an own property that hides it; for the others the accessor creates the session on first
 * read, throws a 503 when Redis failed, or answers undefined.
 *
 * Why on the prototype: defining an accessor on each request object changes its shape every time,
 * which slows every later property read by Express and Nest; a symbol set per request does not.
 */
export function installSessionAccessor(requestPrototype: object): void {
  if (installed.has(requestPrototype)) return;
  installed.add(requestPrototype);
  Object.defineProperty(requestPrototype, 'session', {
    configurable: true,
    enumerable: false,
    get(this: SessionRequest) {
      if (this[LOAD_FAILURE] !== undefined) throw toHttpException(this[LOAD_FAILURE]);
      const materialize = this[CREATE_ON_READ];
      if (!materialize) return undefined;
      this[CREATE_ON_READ] = undefined;
      materialize(this);
      return ownSession(this);
    },
    set(this: SessionRequest, value: unknown) {
      Object.defineProperty(this, 'session', { value, writable: true, configurable: true, enumerable: true });
    },
  });
}

/**
 * A visitor without a session cookie gets no session until code first reads `req.session`: building
 * one (random ID, cookie object, response hooks) only to throw it away is most of what a session
 * layer costs such a request.
 */
export function createOnRead(req: Request, materialize: Materialize): void {
  (req as SessionRequest)[CREATE_ON_READ] = materialize;
}

/**
 * Redis could not load this request's session. Reading `req.session` then throws a 503, so no code,
 * ours or a library's such as passport, can mistake the user for an anonymous visitor.
 */
export function failOnRead(req: Request, cause: unknown): void {
  (req as SessionRequest)[LOAD_FAILURE] =
    cause instanceof SessionStoreUnavailableError
      ? cause
      : new SessionStoreUnavailableError(String((cause as Error)?.message ?? cause), { cause });
}

/** The request's session if it has one, without creating one for a visitor who has none. */
export function peekSession(req: Request): Request['session'] | undefined {
  const pending = req as SessionRequest;
  if (pending[LOAD_FAILURE] !== undefined) throw toHttpException(pending[LOAD_FAILURE]);
  return ownSession(req);
}

/** The request's session, created if the visitor has none yet; an error when the route has no session handling. */
export function requireSession(req: Request): Request['session'] {
  const session = req.session;
  if (!session) throw new Error(messages.noSession());
  return session;
}

/** The session the request holds itself: undefined once destroyed, and never created by asking. */
export function ownSession(req: Request): Request['session'] | undefined {
  return Object.prototype.hasOwnProperty.call(req, 'session') ? req.session : undefined;
}
