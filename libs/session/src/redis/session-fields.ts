/**
 * Hash fields the library keeps beside the session's own keys, spelled once here and interpolated
 * into the Lua scripts. They start with ":", which the library refuses in session keys, so they can
 * never collide with application data.
 */
export const FIELD = {
  /** Creation (or login) time, ms since the epoch: the start of the absolute timeout. */
  createdAt: ':c',
  /** Last request time, ms; written at most once per `lastSeenInterval`, only for logged-in sessions. */
  lastSeenAt: ':s',
  /** The device's User-Agent, cut to a bounded length. */
  userAgent: ':u',
  /** The device's IP address as the app saw it. */
  ip: ':i',
  /** The cookie's settings as JSON, only when they differ from the store's cookie template. */
  cookie: ':k',
  /** When the session's current ID was issued, ms (`renewal` on): a new session, a login, a regenerate, a renewal. */
  issuedAt: ':r',
  /**
   * On a renewed session's old key only: its successor's ID, sealed with the old ID (see
   * `successor-seal.ts`), so whoever holds the old cookie during the grace window finds the new one.
   */
  successor: ':n',
} as const;

/** First character of every library field; refused at the start of a session key. */
export const RESERVED_PREFIX = ':';

/** The latest expiry a session can have: what a cookie's Expires attribute can carry (four-digit years), ms since the epoch. */
export const MAX_EXPIRY_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
