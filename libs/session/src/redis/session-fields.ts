import { joinPieces } from './field-pieces';

/**
 * Hash fields the library keeps beside the session's own keys, spelled once here; the Lua scripts
 * get them as their `FIELD` table (see `lua-source.ts`). They start with ":", which the library
 * refuses in session keys, so they can never collide with application data.
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
   * again under it (see `renewalRecordOf`).
   */
  ended: ':x',
  /**
   * Beside `ended`, on the old key of a logged-in session a `regenerate` (a login, a privilege change)
   * moved to a new ID not yet saved: the index entry it leaves still stands for a live session, and a
   * logout, revoke or "log out everywhere" in that window takes it out, so the new ID is never saved.
   */
  moving: ':v',
} as const;

/** Whether a field is device metadata (`list` shows it; nothing else reads it). */
export function isDeviceField(field: string): boolean {
  return field === FIELD.userAgent || field === FIELD.ip;
}

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
  return field[0] !== RESERVED_PREFIX || isDeviceField(field);
}

/**
 * A session as Redis holds it: every field of its hash by name, the same on ioredis 5 and 6 and on
 * either RESP version. Its expiry is a field too (`FIELD.expiresAt`).
 */
export type StoredFields = Record<string, string>;

/**
 * What a session key's hash is, as a read finds it: a live `session`; the old key of a `renewed`
 * session (it holds its successor, sealed, and until retired the session's final fields); or an
 * `ended` one, the tombstone a destroy leaves while renewal is on, which every read takes as absent.
 */
export type RenewalRecord = 'session' | 'renewed' | 'ended';

/** What a session key's fields make it (see `RenewalRecord`), from its two marks. */
export function renewalRecordOf(fields: StoredFields): RenewalRecord {
  if (fields[FIELD.ended] !== undefined) return 'ended';
  if (fields[FIELD.successor] !== undefined) return 'renewed';
  return 'session';
}

/**
 * A hash as a record of fields, each value whole (see `field-pieces.ts`), null for a missing key
 * (HGETALL's reply, or the flat list a script answers). ioredis turns HGETALL's RESP2 array into an object and decodes a RESP3 map as one, so an
 * object is taken as it is; a flat array is paired up here, defining fields so one named `__proto__`
 * stays a field.
 */
export function asFieldRecord(reply: unknown): StoredFields | null {
  if (Array.isArray(reply)) {
    if (reply.length === 0) return null;
    const fields: StoredFields = {};
    for (let i = 0; i + 1 < reply.length; i += 2) {
      Object.defineProperty(fields, String(reply[i]), { value: String(reply[i + 1]), enumerable: true, writable: true, configurable: true });
    }
    return joinPieces(fields);
  }
  if (reply === null || typeof reply !== 'object') return null;
  for (const field in reply) if (Object.prototype.hasOwnProperty.call(reply, field)) return joinPieces(reply as StoredFields); // at least one field
  return null;
}
