import type { SessionEventType } from '../redis/session-observer';

export type { SessionEventFacts, SessionEventType } from '../redis/session-observer';

/** Every event type, in lifecycle order. */
export const SESSION_EVENT_TYPES: readonly SessionEventType[] = ['created', 'login', 'logout', 'revoked', 'destroyed', 'expired'];

/**
 * What every event carries. Never a session ID, never session data: `digest` is the SHA-256 digest
 * that names the session in Redis (its key without the prefix), which works as no cookie.
 */
export interface SessionEventBase {
  /** The session's digest: its Redis key without the prefix. */
  digest: string;
  /** The session's user, where the replica that saw the event knew it. */
  userId?: string;
  /** The replica that saw the event (`events.replica`). */
  replica: string;
  /** When it saw it, in ms since the epoch. */
  at: number;
}

/**
 * A session stored for the first time. `previousDigest` names the session it replaces when it is an
 * existing session moved to a new ID (`regenerate`, passport's `req.logIn`, a periodic `renewal`): that
 * digest is gone (after a renewal, once its grace window ends).
 */
export interface SessionCreatedEvent extends SessionEventBase {
  type: 'created';
  previousDigest?: string;
}

/** `SessionService.login` stored the session under its new ID; `previousDigest` is the ID it left, when that one was stored. */
export interface SessionLoginEvent extends SessionEventBase {
  type: 'login';
  previousDigest?: string;
}

/** `SessionService.logout` deleted the session. */
export interface SessionLogoutEvent extends SessionEventBase {
  type: 'logout';
}

/** `revoke` or `logoutEverywhere` deleted the session, or `users.maxSessions` evicted it. */
export interface SessionRevokedEvent extends SessionEventBase {
  type: 'revoked';
}

/** Code deleted the session otherwise: `SessionService.destroy`, `req.session.destroy()`, the store's `destroy`. */
export interface SessionDestroyedEvent extends SessionEventBase {
  type: 'destroyed';
}

/** The session died of a timeout: seen by the library at a save, or by Redis (`events.expired`). */
export interface SessionExpiredEvent extends SessionEventBase {
  type: 'expired';
}

/** One event of `SessionEvents`, told apart by `type`. */
export type SessionEvent = SessionCreatedEvent | SessionLoginEvent | SessionLogoutEvent | SessionRevokedEvent | SessionDestroyedEvent | SessionExpiredEvent;

/** A value that came over the network is an event of ours: its type known, its fields strings where they must be. */
export function isSessionEvent(value: unknown): value is SessionEvent {
  const event = value as Partial<SessionEvent> | null;
  return (
    typeof event === 'object' &&
    event !== null &&
    SESSION_EVENT_TYPES.includes(event.type as SessionEventType) &&
    typeof event.digest === 'string' &&
    typeof event.replica === 'string' &&
    typeof event.at === 'number' &&
    (event.userId === undefined || typeof event.userId === 'string')
  );
}
