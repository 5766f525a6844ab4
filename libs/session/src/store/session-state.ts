import type { Sealing } from './field-sealer';

/**
 * What the store remembers about a session object between reading it and writing it back. It hangs
 * off the session under a symbol, so express-session's JSON hashing and `for…in` never see it.
 */
export interface SessionState {
  /**
   * JSON of every field as Redis holds it now; null until the session has been stored once. What a
   * save diffs against. Under `encryption`, opened (two seals of one value differ), except what a
   * request's read leaves sealed: the device metadata, which nothing on the request path uses, and
   * each app value until something reaches it (see `opening`). A value left sealed is the very string
   * Redis holds, and unchanged as long as nothing reached it.
   */
  stored: Map<string, string> | null;
  /**
   * Under `encryption`, on a request's read: how the session's values were sealed when read. A request's
   * read leaves each app value sealed in `stored` until something reaches it (see left-sealed.ts),
   * which opens it with this and puts the plaintext in its place.
   */
  opening?: Sealing;
  /**
   * Under `encryption`: the exact sealed string Redis holds for each sealed field, as read or as last
   * written, which `SessionService.update`'s compare-and-set expects. Undefined without encryption,
   * where Redis holds `stored` itself.
   */
  held?: Map<string, string>;
  /** The Redis key `stored` describes: saved under another ID, the session is written whole. */
  redisKey?: string;
  /** Start of the absolute timeout, ms since the epoch. */
  createdAt: number;
  /**
   * True when this request owes Redis no slide of the idle timeout: none was due when it was read
   * (see `touchAfter`), or the read sent it already (`sliding`). The end-of-request touch then has
   * nothing to send.
   */
  refreshed: boolean;
  /** The slide the read sent without waiting for it; the end of the request waits for it (a 503 if it failed). */
  sliding?: Promise<void>;
  /** The session's expiry as Redis holds it (its expiry field), ms; undefined when it has none yet. */
  expiresAt?: number;
  /** Reserved fields (login metadata) to write with the next save. */
  pendingMeta?: Record<string, string>;
  lastSeenAt?: number;
  /**
   * The session's entry in its user's index as Redis holds it (the user it belonged to when read or
   * last saved, under the digest it had then); carried over an ID change, so the next save moves it.
   */
  indexEntry?: UserIndexEntry;
  /**
   * The user a save took this session away from (its user removed, as passport's logout does before
   * its regenerate), carried over an ID change: the event that ends the session still names them.
   */
  formerUserId?: string;
  /** The digest this session had before it moved to a new ID, named by the event of its first save under the new one. */
  previousDigest?: string;
  /** Set by `SessionService.login`: the save that stores the new ID is announced as a `login`, not a `created`. */
  loggingIn?: boolean;
  /**
   * The ID the session lives under now, when a renewal (made by this request, or met on the way)
   * moved it away from the ID it was asked for: the lifecycle sends it as the new cookie.
   */
  renewedId?: string;
  /** The object values put on the request's session behind accessors, and which the request reached (see tracked-values.ts). */
  tracked?: TrackedValues;
  /**
   * The object and array values of a session read lazily (see tracked-values.ts), behind the decoded
   * data's accessors: each its value once parsed (or assigned), `UNPARSED` until then, or `CORRUPT`
   * (not valid JSON: the key reads as absent, and Redis keeps it).
   */
  lazy?: Map<string, unknown>;
  /** Where a lazily read value found corrupt when first reached is reported: the store's context. */
  reporter?: CorruptValueReporter;
}

/** Marks of a lazily read key (see `SessionState.lazy`). */
export const UNPARSED = Symbol('nest-redis-session:unparsed');
export const CORRUPT = Symbol('nest-redis-session:corrupt');

/** Told when a session key's value, parsed (and opened) only once a request reaches it, is not valid JSON or does not open. */
export interface CorruptValueReporter {
  ignoreCorruptKey(redisKey: string | undefined, key: string): void;
  /** Under `encryption`: the value did not open, for `reason` (it does not authenticate). */
  ignoreUnopenableKey(redisKey: string, key: string, reason: string): void;
}

/** The object values of one session as read, behind the accessors of tracked-values.ts, and the keys the request reached. */
export interface TrackedValues {
  /** Each value, or the `LazyMark` of one not parsed yet (a lazy read) or found corrupt. */
  values: Map<string, unknown>;
  /** JSON of each value as Redis held it when read (opened, under encryption). */
  json: Map<string, string>;
  reached: Set<string>;
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
  /**
   * The first save of a logged-in session a regenerate moved to a new ID, within its user's index:
   * written only while `leave` is still there (a logout, revoke or "log out everywhere" since took it out).
   */
  leaveRequired?: boolean;
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
