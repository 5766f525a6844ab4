/**
 * Hash fields the library keeps beside the session's own keys, spelled once here and interpolated
 * into the Lua scripts. They start with ":", which the library refuses in session keys, so they can
 * never collide with application data.
 */
export const FIELD = {
  /** Creation (or login) time, ms since the epoch: the start of the absolute timeout. */
  createdAt: ':c',
  /**
   * The session's expiry, ms since the epoch: the PEXPIREAT every write script sets, kept beside it
   * so a read (a plain HGETALL) can tell whether the idle timeout is due to slide.
   */
  expiresAt: ':e',
  /** Last request time, ms, of logged-in sessions; written with each slide and save, so at most `touchAfter` old. */
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
  /**
   * On a destroyed session's key only, while `renewal` is on and for its grace: the key is a
   * tombstone, absent to every read and write, so a renewal still under way cannot plant the session
   * again under it (see `renewal/renewal-record.ts`).
   */
  ended: ':x',
} as const;

/** First character of every library field; refused at the start of a session key. */
export const RESERVED_PREFIX = ':';

/** The latest expiry a session can have: what a cookie's Expires attribute can carry (four-digit years), ms since the epoch. */
export const MAX_EXPIRY_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * Whether the `encryption` option seals a field: every session key the app sets, and the device
 * metadata (user agent, IP: personal data). The times and the cookie settings stay in clear: the Lua
 * scripts read them for the timeouts, and they say nothing about the user.
 */
export function isSealedField(field: string): boolean {
  return field[0] !== RESERVED_PREFIX || field === FIELD.userAgent || field === FIELD.ip;
}
