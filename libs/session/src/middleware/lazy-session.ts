import type { Request } from 'express';
import { messages } from '../errors/session.messages';
import { SessionStoreUnavailableError } from '../errors/session-store-unavailable.error';
import { toHttpException } from '../errors/to-http-exception';

const PENDING = Symbol('nest-redis-session:pending');

type Materialize = () => void;
type PendingRequest = Request & { [PENDING]?: Materialize };

/**
 * A visitor without a session cookie gets no session until code first reads `req.session`: building
 * one (random ID, cookie, hashing) only to throw it away is most of what a session layer costs such a
 * request. The first read of `req.session` or `req.sessionID` runs `materialize`, synchronously.
 */
export function deferSession(req: Request, materialize: Materialize): void {
  const pending = req as PendingRequest;
  pending[PENDING] = materialize;
  for (const key of ['session', 'sessionID'] as const) {
    Object.defineProperty(req, key, {
      configurable: true,
      enumerable: true,
      get: () => {
        materializeNow(pending);
        return pending[key];
      },
      set: (value: unknown) => {
        pending[PENDING] = undefined;
        defineValue(pending, key, value);
      },
    });
  }
}

/**
 * Redis could not load this request's session. Reading `req.session` then throws a 503, so no code,
 * ours or a library's such as passport, can mistake the user for an anonymous visitor.
 */
export function markUnavailable(req: Request, cause: unknown): void {
  const error =
    cause instanceof SessionStoreUnavailableError ? cause : new SessionStoreUnavailableError(String((cause as Error)?.message ?? cause), { cause });
  const fail = () => {
    throw toHttpException(error);
  };
  for (const key of ['session', 'sessionID'] as const) {
    Object.defineProperty(req, key, { configurable: true, enumerable: false, get: fail, set: (value: unknown) => defineValue(req, key, value) });
  }
}

/** The request's session if it has one, without creating one for a visitor who has none. */
export function peekSession(req: Request): Request['session'] | undefined {
  if ((req as PendingRequest)[PENDING]) return undefined;
  return req.session;
}

/** The request's session, created if the visitor has none yet; an error when the route has no session handling. */
export function requireSession(req: Request): Request['session'] {
  const session = req.session;
  if (!session) throw new Error(messages.noSession());
  return session;
}

function materializeNow(req: PendingRequest): void {
  const materialize = req[PENDING];
  if (!materialize) return;
  req[PENDING] = undefined;
  defineValue(req, 'session', undefined);
  defineValue(req, 'sessionID', undefined);
  materialize();
}

function defineValue(req: Request, key: 'session' | 'sessionID', value: unknown): void {
  Object.defineProperty(req, key, { configurable: true, enumerable: true, writable: true, value });
}
