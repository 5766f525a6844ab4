/**
 * What the store remembers about a session object between reading it and writing it back. It hangs
 * off the session under a symbol, so express-session's JSON hashing and `for…in` never see it.
 */
export interface SessionState {
  /** JSON of every field as Redis holds it now; null until the session has been stored once. */
  stored: Map<string, string> | null;
  /** The Redis key `stored` describes: saved under another ID, the session is written whole. */
  redisKey?: string;
  /** Start of the absolute timeout, ms since the epoch. */
  createdAt: number;
  /** True when the read already slid the idle timeout, so the end-of-request touch has nothing to do. */
  refreshed: boolean;
  /** Reserved fields (login metadata) to write with the next save. */
  pendingMeta?: Record<string, string>;
  lastSeenAt?: number;
  /**
   * The session's entry in its user's index as Redis holds it (the user it belonged to when read or
   * last saved, under the digest it had then); carried over an ID change, so the next save moves it.
   */
  indexEntry?: UserIndexEntry;
  /**
   * The ID the session lives under now, when a renewal (made by this request, or met on the way)
   * moved it away from the ID it was asked for: the lifecycle sends it as the new cookie.
   */
  renewedId?: string;
}

/** A session's place in a user's index: the user and the session's digest. */
export interface UserIndexEntry {
  userId: string;
  digest: string;
}

/** What a save changes in the user indexes: the entry the session leaves, the one it joins. */
export interface UserIndexMove {
  leave?: UserIndexEntry;
  join?: UserIndexEntry;
}

export const SESSION_STATE = Symbol('nest-redis-session:state');

type WithState = { [SESSION_STATE]?: SessionState };

export function stateOf(session: object): SessionState | undefined {
  return (session as WithState)[SESSION_STATE];
}

export function attachState(session: object, state: SessionState): SessionState {
  Object.defineProperty(session, SESSION_STATE, { value: state, writable: true, configurable: true, enumerable: false });
  return state;
}
