import type { SessionData } from 'express-session';
import { messages } from '../errors/session.messages';
import { SessionDataError } from '../errors/session-data.error';
import { FIELD, RESERVED_PREFIX } from '../redis/session-fields';
import type { SessionState } from './session-state';
import { isForbiddenKey } from './session-validation';

/** A session as read from Redis: the data express-session inflates, and the store's bookkeeping. */
export interface DecodedSession {
  data: SessionData & Record<string, unknown>;
  state: SessionState;
}

/** The fields one save writes and deletes: only what changed since the session was read. */
export interface SessionDelta {
  /** Flat [field, value, field, value, …] list, ready for HSET. */
  set: string[];
  del: string[];
  /** Bytes of JSON the whole session will take once written. */
  bytes: number;
  /** The field map Redis will hold after the write. */
  next: Map<string, string>;
}

/** Thrown while decoding; the store logs it and answers "no session". */
export class CorruptSessionError extends Error {}

/**
 * Turns a session's hash into session data. One top-level session key per field, as JSON; the
 * cookie comes from the template unless the session stored its own, and its expiry is the session's
 * expiry field (the key's PEXPIREAT). `now` stands in for the read's time where a session written
 * before that field existed needs an expiry for its cookie.
 */
export function decodeSession(fields: Record<string, string>, cookieTemplate: string | undefined, now = Date.now()): DecodedSession {
  const data: Record<string, unknown> = {};
  const stored = new Map<string, string>();
  let createdAt: number | undefined;
  let lastSeenAt: number | undefined;
  let expiresAt: number | undefined;
  let cookieJson = cookieTemplate;
  for (const field of Object.keys(fields)) {
    const value = fields[field];
    if (field === FIELD.expiresAt) {
      // Kept out of `stored`: only the write scripts set it, never a save's field list.
      expiresAt = Number(value);
      continue;
    }
    stored.set(field, value);
    if (field[0] !== RESERVED_PREFIX) {
      if (!isForbiddenKey(field)) data[field] = parseJson(field, value); // written before such keys were refused
    } else if (field === FIELD.createdAt) {
      createdAt = Number(value);
    } else if (field === FIELD.lastSeenAt) {
      lastSeenAt = Number(value);
    } else if (field === FIELD.cookie) {
      cookieJson = value;
    }
  }
  if (createdAt === undefined || !Number.isFinite(createdAt)) {
    throw new CorruptSessionError(`field "${FIELD.createdAt}" is missing or not a number`);
  }
  if (cookieJson === undefined) throw new CorruptSessionError(`field "${FIELD.cookie}" is missing`);
  const cookie = parseJson(FIELD.cookie, cookieJson) as Record<string, unknown>;
  if (cookie === null || typeof cookie !== 'object') throw new CorruptSessionError('the cookie is not an object');
  if (expiresAt !== undefined && !Number.isFinite(expiresAt)) expiresAt = undefined; // as if absent: the next slide rewrites it
  // A persistent cookie expires with the key; a browser-session cookie has no expiry of its own.
  // Without the expiry field (written by an older version), the full window, which its first read slides to.
  if (cookie.expires === true) {
    const maxAge = cookie.originalMaxAge;
    cookie.expires = expiresAt !== undefined ? new Date(expiresAt) : typeof maxAge === 'number' ? new Date(now + maxAge) : null;
  } else {
    cookie.expires = null;
  }
  data.cookie = cookie;
  return {
    data: data as DecodedSession['data'],
    state: { stored, createdAt, lastSeenAt, expiresAt, refreshed: false },
  };
}

/**
 * Compares a session with what Redis holds and returns only the fields to write or delete. A session
 * never stored (`state.stored === null`) is written whole.
 */
export function diffSession(session: Record<string, unknown>, state: SessionState, cookieTemplate: string | undefined): SessionDelta {
  const unchanged = unchangedSize(session, state, cookieTemplate);
  if (unchanged !== undefined) return { set: [], del: [], bytes: unchanged, next: state.stored! };
  const next = new Map<string, string>();
  let bytes = 0;
  for (const key of Object.keys(session)) {
    if (key === 'cookie') continue;
    if (key[0] === RESERVED_PREFIX) throw new SessionDataError(messages.reservedKey(key), key);
    if (isForbiddenKey(key)) throw new SessionDataError(messages.forbiddenKey(key), key);
    const json = toJson(key, session[key]);
    if (json === undefined) continue; // undefined and functions are not stored, as JSON.stringify drops them
    next.set(key, json);
    bytes += key.length + json.length;
  }
  const cookieJson = cookieSettingsJson(session.cookie);
  if (cookieJson !== undefined && cookieJson !== cookieTemplate) next.set(FIELD.cookie, cookieJson);
  next.set(FIELD.createdAt, String(state.createdAt));
  const previous = state.stored;
  for (const [field, value] of previous ?? []) {
    if (field[0] === RESERVED_PREFIX && field !== FIELD.cookie && field !== FIELD.createdAt && !next.has(field)) {
      next.set(field, value); // metadata fields live on until the session does
    }
  }
  for (const [field, value] of Object.entries(state.pendingMeta ?? {})) next.set(field, value);

  const set: string[] = [];
  for (const [field, value] of next) {
    if (previous?.get(field) !== value) set.push(field, value);
  }
  const del: string[] = [];
  for (const field of previous?.keys() ?? []) {
    if (!next.has(field)) del.push(field);
  }
  return { set, del, bytes, next };
}

/**
 * The session's size when it matches what Redis holds, else undefined: the common case of a request
 * that only read, checked without building the delta's maps and arrays.
 */
function unchangedSize(session: Record<string, unknown>, state: SessionState, cookieTemplate: string | undefined): number | undefined {
  const stored = state.stored;
  if (!stored || state.pendingMeta) return undefined;
  let bytes = 0;
  let fields = 0;
  for (const key of Object.keys(session)) {
    if (key === 'cookie') continue;
    if (key[0] === RESERVED_PREFIX) return undefined;
    const json = toJson(key, session[key]);
    if (json === undefined || stored.get(key) !== json) return undefined;
    bytes += key.length + json.length;
    fields++;
  }
  const cookieJson = cookieSettingsJson(session.cookie);
  const storedCookie = stored.get(FIELD.cookie);
  if (storedCookie === undefined ? cookieJson !== undefined && cookieJson !== cookieTemplate : storedCookie !== cookieJson) return undefined;
  for (const field of stored.keys()) if (field[0] !== RESERVED_PREFIX) fields--;
  return fields === 0 ? bytes : undefined;
}

/**
 * JSON of the cookie's settings. The expiry itself is not kept (the key's TTL is its single source),
 * only whether there is one: `expires: true` for a persistent cookie.
 */
export function cookieSettingsJson(cookie: unknown): string | undefined {
  if (cookie === null || typeof cookie !== 'object') return undefined;
  const source = (cookie as { data?: Record<string, unknown> }).data ?? (cookie as Record<string, unknown>);
  const { expires, maxAge: _maxAge, ...settings } = source;
  if (settings.originalMaxAge === undefined) settings.originalMaxAge = null;
  if (expires != null) settings.expires = true;
  return toJson('cookie', settings);
}

/** JSON of one session value, or a SessionDataError naming the key when JSON cannot hold it. */
export function toJson(key: string, value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch (error) {
    throw new SessionDataError(messages.unserializableKey(key, (error as Error).message), key);
  }
}

function parseJson(field: string, value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    throw new CorruptSessionError(`field "${field}" is not valid JSON`);
  }
}
