import { UnauthorizedException } from '@nestjs/common';
import { messages } from '../errors/session.messages';
import { toHttpException } from '../errors/to-http-exception';
import type { SessionRequest } from './http-platform';
import { noSessionError, ownSession, stateOf } from './request-state';
import { isSocketRequest } from './session-target';

// The two ways the library reads a request's session. Everything else (guards, `@Session()`, the
// service) goes through one of them.

/**
 * The request's session if it has one, never creating one for a visitor who has none (guards and
 * `@Session('key')` use it, so an anonymous request costs nothing). Throws a 503 when Redis failed.
 */
export function existingSession(req: object): SessionRequest['session'] | undefined {
  const state = stateOf(req);
  if (state?.phase === 'failed') throw toHttpException(state.failure);
  return ownSession(req);
}

/**
 * The request's session, created if the visitor has none yet; an error when the route has no session
 * handling, or a 401 for a socket without one (no response can carry a new session's cookie to it).
 */
export function ensureSession(req: object): SessionRequest['session'] {
  const session = (req as SessionRequest).session;
  if (session) return session;
  if (isSocketRequest(req)) throw new UnauthorizedException(messages.socketWithoutSession());
  throw noSessionError(req);
}

/**
 * Whether the request's session ID travels in the ID header (`idFrom`), so that its response must set
 * no cookie: a logout then has no cookie to clear, the empty header says it.
 */
export function carriedByHeader(req: object): boolean {
  return stateOf(req)?.carrier === 'header';
}

/**
 * Whether the request is authenticated by the ID header alone: it came with the header (or under
 * `idFrom: 'header'`) and without the session cookie. A browser adds cookies by itself, never a
 * header, so such a request carries no ambient credential a forged cross-site request could use.
 */
export function authenticatedByHeaderAlone(req: object): boolean {
  const state = stateOf(req);
  return state?.carrier === 'header' && !state.lifecycle.transport.sentCookie(req as SessionRequest);
}

/** Logout's cookie: one that expired long ago, in place of the session's (nothing where no session handling ran). */
export function clearSessionCookie(req: object): void {
  stateOf(req)?.lifecycle.clearCookie(req as SessionRequest);
}
