import type { SessionData } from 'express-session';
import { USER_KEY } from '../session.constants';
import type { SessionUser } from '../session-data';
import { FIELD } from '../redis/session-fields';
import { slideGainsEnough } from './idle-slide';
import type { SessionContext } from './session-context';
import { stateOf, type SessionState } from './session-state';
import type { StoredSession, UserIndexKeeper } from './store-ports';

/**
 * The idle timeout's slides: sent by a read that finds one due (see `SessionReader.adopt`), or by
 * the end-of-request touch of a session that was not read from Redis. Also where the store notices
 * a session past its deadline and reports it expired.
 */
export class SessionSlides {
  constructor(
    private readonly sessions: SessionContext,
    private readonly indexKeeper: UserIndexKeeper | undefined,
  ) {}

  /**
   * Slides the expiry to what the session's cookie asks for, without writing data, when that is due:
   * when it gains `touchAfter` over the expiry Redis was last seen to hold. Only waits when the read
   * sent the slide itself. A session object never read slides whatever Redis holds.
   */
  async touch(sessionId: string, session: SessionData): Promise<void> {
    const state = stateOf(session);
    if (state?.sliding) return state.sliding;
    const now = Date.now();
    const expiresAt = this.sessions.expiryOf(session, state?.createdAt ?? now, now);
    if (state?.stored && !slideGainsEnough(this.sessions.slides, state.expiresAt, expiresAt, session.cookie?.originalMaxAge)) return;
    await this.slide(this.sessions.redisKeyOf(sessionId), state, expiresAt, now);
  }

  /**
   * Slides a session to `expiresAt` (see `SessionGateway.touchSession`), stamping last-seen when it
   * is logged in, and pushes its user index's expiry when that needs it, both sent at once. Also
   * caught here, so a slide nobody waits for never ends the process; whoever waits still sees a failure.
   */
  slide(redisKey: string, state: SessionState | undefined, expiresAt: number, now: number): Promise<void> {
    const lastSeenAt = state?.stored?.has(FIELD.lastSeenAt) ? now : undefined;
    const push = state && this.indexKeeper?.pushExpiry(state, expiresAt);
    const touching = this.sessions.gateway
      .touchSession({
        redisKey,
        expiresAt,
        now,
        absoluteTimeout: this.sessions.settings.absoluteTimeout,
        // A session read here moves only if nothing moved it since; one never read, whatever it holds.
        expectedExpiry: state?.stored ? (state.expiresAt ?? null) : undefined,
        lastSeenAt,
      })
      .then(({ status }) => {
        if (status === 'expired') this.reportExpired(redisKey, state?.indexEntry?.userId);
        if (status !== 'touched' || !state) return;
        state.expiresAt = expiresAt;
        if (lastSeenAt !== undefined) state.lastSeenAt = lastSeenAt;
      });
    const sliding = push ? Promise.all([touching, push]).then(() => undefined) : touching;
    sliding.catch(() => undefined);
    return sliding;
  }

  /** A session read past its absolute deadline: absent now, deleted without holding up the request. */
  dropPastDeadline(redisKey: string): null {
    this.sessions.gateway.deleteKey(redisKey).then(
      (deleted) => {
        if (deleted > 0) this.reportExpired(redisKey, undefined);
      },
      () => undefined, // Redis failing: the key's own TTL, never past the deadline, removes it anyway
    );
    return null;
  }

  /** A session the store found expired: counted, and told as an `expired` event. */
  reportExpired(redisKey: string, userId: string | undefined): void {
    const observer = this.sessions.observer;
    observer?.sessionEnded?.('expired', 1);
    observer?.sessionEvent?.({ type: 'expired', digest: this.sessions.digestOfKey(redisKey), userId });
  }
}

/** The logged-in user's id, for the active-users estimate; undefined for an anonymous session. */
export function userIdOf(session: StoredSession): string | undefined {
  const id = (session[USER_KEY] as Partial<SessionUser> | undefined)?.id;
  return id === undefined || id === null ? undefined : String(id);
}
