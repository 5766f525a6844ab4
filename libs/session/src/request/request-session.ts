import { messages } from '../errors/session.messages';
import { toHttpException } from '../errors/to-http-exception';
import type { SessionRequest } from './http-platform';
import { ownSession, stateOf } from './session-lifecycle';

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

/** The request's session, created if the visitor has none yet; an error when the route has no session handling. */
export function ensureSession(req: object): SessionRequest['session'] {
  const session = (req as SessionRequest).session;
  if (!session) throw new Error(messages.noSession());
  return session;
}
