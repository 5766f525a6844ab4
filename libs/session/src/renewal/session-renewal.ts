import type { SessionPersistence, StoredSession } from '../store/session-persistence';
import { stateOf } from '../store/session-state';

/**
 * Periodic ID renewal (`renewal` option), on the way in: a session whose ID is older than the
 * interval moves to a new ID before the request sees it, its data and user index entry kept. The
 * request then holds the session under its new ID (`renewedId`), and the lifecycle sends the new
 * cookie as it does after a `regenerate`. Requests still holding the old ID follow it for the grace
 * window (`SessionPersistence.load`), wherever they run.
 */
export class SessionRenewal {
  constructor(private readonly sessions: SessionPersistence) {}

  /** The session a request with `sessionId` gets: renewed first when due; null when there is none. */
  async load(sessionId: string): Promise<StoredSession | null> {
    const data = await this.sessions.load(sessionId);
    const state = data && stateOf(data);
    if (!state || !this.sessions.renewalDue(state)) return data;
    const successor = await this.sessions.forwarding.renew(state.renewedId ?? sessionId);
    const renewed = successor === undefined ? null : await this.sessions.load(successor);
    if (renewed) stateOf(renewed)!.renewedId ??= successor;
    return renewed;
  }
}
