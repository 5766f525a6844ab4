import { Cookie, type SessionData } from 'express-session';
import { messages } from '../errors/session.messages';
import { SessionDataError } from '../errors/session-data.error';
import { FIELD, RESERVED_PREFIX, isDeviceField, isSealedField } from '../redis/session-fields';
import { UnopenableValueError, type Sealing } from './field-sealer';

export type { Sealing } from './field-sealer';
import { UNPARSED, attachState, type CorruptValueReporter, type SessionState } from './session-state';
import { isForbiddenKey } from './session-validation';
import { countedLength, isLeftSealed } from './left-sealed';
import { lazyDataAccessor, unreachedJson } from './tracked-values';

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
  /**
   * Bytes of JSON the whole session will take once written, as `maxSessionBytes` counts them; values
   * a request's read left sealed count by a bound (`countedLength`), opened to count exactly only by a
   * caller the bound would refuse (`exactAppLength`).
   */
  bytes: number;
  /** The field map Redis will hold after the write, as JSON (opened). */
  next: Map<string, string>;
  /** Under `encryption`: the sealed strings Redis will hold for the sealed fields (see `SessionState.held`). */
  held?: Map<string, string>;
}

/** Thrown while decoding; the store logs it and answers "no session". */
export class CorruptSessionError extends Error {}

/** A sealed value that did not open (wrong key, tampered with, copied, plaintext): logged once per session. */
export class UnopenableSessionError extends CorruptSessionError {}

/**
 * Turns a session's hash into session data. One top-level session key per field, as JSON; the
 * cookie comes from the template unless the session stored its own, and its expiry is the session's
 * expiry field (the key's PEXPIREAT). `now` stands in for the read's time where a session written
 * before that field existed needs an expiry for its cookie. With `sealing`, sealed fields are opened
 * by the decode, never before, so whatever keeps raw fields (a cache of what Redis holds) never holds plaintext.
 *
 * With a `reporter` (a request's read), the read is lazy: an object or array value is parsed only
 * when something reaches it, a sealed value opened only then (left-sealed.ts), and a value that is
 * not valid JSON or does not open makes that key absent (reported to `reporter` when reached) instead
 * of the whole session; the state comes attached to the data. Without one, every value is opened and
 * parsed here and any corrupt one throws `CorruptSessionError` (`UnopenableSessionError`).
 */
export function decodeSession(
  fields: Record<string, string>,
  cookieTemplate: string | undefined,
  now = Date.now(),
  sealing?: Sealing,
  reporter?: CorruptValueReporter,
): DecodedSession {
  const data: Record<string, unknown> = {};
  let lazy: Map<string, unknown> | undefined;
  const stored = new Map<string, string>();
  const held = sealing ? new Map<string, string>() : undefined;
  let createdAt: number | undefined;
  let lastSeenAt: number | undefined;
  let expiresAt: number | undefined;
  let cookieJson = cookieTemplate;
  for (const field of Object.keys(fields)) {
    let value = fields[field];
    if (field === FIELD.expiresAt) {
      // Kept out of `stored`: only the write scripts set it, never a save's field list.
      expiresAt = Number(value);
      continue;
    }
    if (held && isSealedField(field)) {
      held.set(field, value);
      // A request's read opens nothing it may never use, saving an AES-GCM open per field: the device
      // metadata (only `list` reads it, from Redis; a save keeps it as it is) stays sealed, and so does
      // each app value until something reaches it (left-sealed.ts), once it passed what can be checked
      // without opening (a key the options lack still makes the session absent).
      if (!reporter) value = openField(sealing!, field, value);
      else if (!isDeviceField(field)) {
        if (isLeftSealed(value)) checkField(sealing!, field, value);
        else value = openField(sealing!, field, value); // not sealed: taken as it is under `acceptPlaintext`, else refused
      }
    }
    stored.set(field, value);
    if (field[0] !== RESERVED_PREFIX) {
      if (isForbiddenKey(field)) continue; // written before such keys were refused
      if (!reporter) data[field] = parseJson(field, value);
      else if (startsObject(value) || (held !== undefined && isLeftSealed(value)) || !parsesTo(data, field, value)) {
        (lazy ??= new Map()).set(field, UNPARSED);
        Object.defineProperty(data, field, lazyDataAccessor(field));
      }
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
  const cookie = parseCookieSettings(cookieJson);
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
  const state: SessionState = { stored, held, createdAt, lastSeenAt, expiresAt, refreshed: false };
  if (reporter) {
    state.lazy = lazy;
    state.reporter = reporter;
    state.opening = sealing;
    attachState(data, state); // the lazy accessors find the JSON through it
  }
  return { data: data as DecodedSession['data'], state };
}

/** Whether a JSON text is an object or an array: what a lazy read leaves unparsed (with every value left sealed). */
function startsObject(json: string): boolean {
  const first = json.charCodeAt(0);
  return first === 123 /* { */ || first === 91; /* [ */
}

/** Parses a primitive's JSON onto `data`; false (and nothing set) when it is not valid JSON. */
function parsesTo(data: Record<string, unknown>, field: string, json: string): boolean {
  try {
    data[field] = JSON.parse(json);
    return true;
  } catch {
    return false;
  }
}

/**
 * Compares a session with what Redis holds and returns only the fields to write or delete. A session
 * never stored (`state.stored === null`) is written whole. The comparison is on JSON; with `sealing`,
 * only the values to write are sealed, each with a fresh IV.
 */
export function diffSession(session: Record<string, unknown>, state: SessionState, cookieTemplate: string | undefined, sealing?: Sealing): SessionDelta {
  const unchanged = unchangedSize(session, state, cookieTemplate);
  if (unchanged !== undefined) return { set: [], del: [], bytes: unchanged, next: state.stored!, held: state.held };
  const next = new Map<string, string>();
  const previous = state.stored;
  let bytes = 0;
  for (const key of Object.keys(session)) {
    if (key === 'cookie') continue;
    if (key[0] === RESERVED_PREFIX) throw new SessionDataError(messages.reservedKey(key), key);
    if (isForbiddenKey(key)) throw new SessionDataError(messages.forbiddenKey(key), key);
    let json = unreachedJson(session, key, state);
    // A value left sealed is written back as it is only where Redis holds that very string (it is bound
    // to its key): anywhere else (a new ID) the accessor opens it, and it is sealed afresh below.
    if (json !== undefined && isLeftSealed(json) && previous?.get(key) !== json) json = undefined;
    json ??= toJson(key, session[key]);
    if (json === undefined) continue; // undefined: the key is not stored (deleted when it was)
    next.set(key, json);
    bytes += key.length + countedLength(json);
  }
  const cookieJson = cookieSettingsJson(session.cookie);
  if (cookieJson !== undefined && cookieJson !== cookieTemplate) next.set(FIELD.cookie, cookieJson);
  next.set(FIELD.createdAt, String(state.createdAt));
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
  return { set, del, bytes, next, held: sealing && sealValues(sealing, set, del, previous ? state.held : undefined) };
}

/** Seals the sealed fields' values in `set` in place; answers the sealed strings Redis will hold after the write. */
function sealValues({ sealer, redisKey }: Sealing, set: string[], del: string[], previous: Map<string, string> | undefined): Map<string, string> {
  const held = new Map(previous);
  for (let i = 0; i < set.length; i += 2) {
    if (!isSealedField(set[i])) continue;
    // Never sealed twice: a value left sealed is only written where Redis holds it already (diffSession).
    if (isLeftSealed(set[i + 1])) throw new Error(`nest-redis-session: field "${set[i]}" would be sealed twice; please report this`);
    set[i + 1] = sealer.seal(redisKey, set[i], set[i + 1]);
    held.set(set[i], set[i + 1]);
  }
  for (const field of del) held.delete(field);
  return held;
}

/** The plaintext of a sealed field, or an `UnopenableSessionError` naming why it did not open. */
export function openField({ sealer, redisKey }: Sealing, field: string, value: string): string {
  try {
    return sealer.open(redisKey, field, value);
  } catch (error) {
    throw asSessionError(error);
  }
}

/** An `UnopenableSessionError` when what shows without opening a sealed field says it cannot open. */
function checkField({ sealer }: Sealing, field: string, value: string): void {
  try {
    sealer.checkOpenable(field, value);
  } catch (error) {
    throw asSessionError(error);
  }
}

function asSessionError(error: unknown): unknown {
  return error instanceof UnopenableValueError ? new UnopenableSessionError(error.message) : error;
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
    const json = unreachedJson(session, key, state) ?? toJson(key, session[key]);
    if (json === undefined || stored.get(key) !== json) return undefined;
    bytes += key.length + countedLength(json);
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
  const memoisable = isExpressCookie(cookie);
  if (memoisable && sameSettings(cookie as Record<string, unknown>, lastCookieSettings.fields)) return lastCookieSettings.json;
  const source = (cookie as { data?: Record<string, unknown> }).data ?? (cookie as Record<string, unknown>);
  const { expires, maxAge: _maxAge, ...settings } = source;
  if (settings.originalMaxAge === undefined) settings.originalMaxAge = null;
  if (expires != null) settings.expires = true;
  const json = toJson('cookie', settings);
  const fields = memoisable ? cookieSettingFields(cookie as Record<string, unknown>) : undefined;
  if (fields && json !== undefined) lastCookieSettings = { fields, json };
  return json;
}

/*
 * Every end-of-request save serialises the cookie's settings, and they are almost always those of
 * the request before: the last answer is kept with the settings it came from and given again when
 * they are all the same primitives, without building express-session's `data` object, its copy and
 * the JSON. Only for express-session's own Cookie (and subclasses that keep its `data`), whose JSON
 * depends on nothing else.
 */
const COOKIE_PROTOTYPE: object = (Cookie as unknown as { prototype: object }).prototype;
let lastCookieSettings: { fields: unknown[]; json: string } = { fields: [], json: '' };

function isExpressCookie(cookie: object): boolean {
  let prototype = Object.getPrototypeOf(cookie) as object | null;
  while (prototype !== null && prototype !== COOKIE_PROTOTYPE) {
    if (Object.prototype.hasOwnProperty.call(prototype, 'data')) return false;
    prototype = Object.getPrototypeOf(prototype) as object | null;
  }
  return prototype === COOKIE_PROTOTYPE && !Object.prototype.hasOwnProperty.call(cookie, 'data');
}

/** What Cookie's `data` holds, the expiry reduced to whether there is one; undefined when one is not a primitive. */
function cookieSettingFields(cookie: Record<string, unknown>): unknown[] | undefined {
  const fields = COOKIE_SETTINGS.map((name) => (name === '_expires' ? cookie._expires != null : cookie[name]));
  for (const value of fields) if (value !== null && (typeof value === 'object' || typeof value === 'function')) return undefined;
  return fields;
}

/** Whether the cookie's settings are `fields` (as `cookieSettingFields` lists them), read without allocating. */
function sameSettings(cookie: Record<string, unknown>, fields: unknown[]): boolean {
  if (fields.length !== COOKIE_SETTINGS.length) return false;
  for (let i = 0; i < COOKIE_SETTINGS.length; i++) {
    const name = COOKIE_SETTINGS[i];
    if ((name === '_expires' ? cookie._expires != null : cookie[name]) !== fields[i]) return false;
  }
  return true;
}

/** The properties express-session's Cookie builds its `data` (and so its JSON) from. */
const COOKIE_SETTINGS = ['originalMaxAge', 'partitioned', 'priority', '_expires', 'secure', 'httpOnly', 'domain', 'path', 'sameSite'] as const;

/**
 * JSON of one session value (undefined for `undefined`: the key is deleted), or a SessionDataError
 * naming the key when JSON cannot hold it: BigInt and cycles, and a function or a symbol, which
 * JSON.stringify would drop without a word, deleting the key's stored value with it.
 */
export function toJson(key: string, value: unknown): string | undefined {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new SessionDataError(messages.unserializableKey(key, (error as Error).message), key);
  }
  if (json === undefined && value !== undefined) {
    throw new SessionDataError(
      messages.unserializableKey(key, `JSON has no ${typeof value === 'function' ? 'function' : typeof value === 'symbol' ? 'symbol' : 'form of this value'}`),
      key,
    );
  }
  return json;
}

/*
 * Almost every session's cookie is the template's, so every read would parse the same JSON: the last
 * settings parsed are kept and copied instead (a fresh object each time, as the read fills in its
 * expiry), when all their values are primitives a shallow copy cannot share.
 */
let lastCookieParsed: { json: string; settings: Record<string, unknown> | undefined } = { json: '', settings: undefined };

function parseCookieSettings(json: string): Record<string, unknown> {
  if (json === lastCookieParsed.json && lastCookieParsed.settings) return { ...lastCookieParsed.settings };
  const cookie = parseJson(FIELD.cookie, json) as Record<string, unknown>;
  if (cookie === null || typeof cookie !== 'object') throw new CorruptSessionError('the cookie is not an object');
  const primitive = Object.values(cookie).every((value) => value === null || typeof value !== 'object');
  lastCookieParsed = { json, settings: primitive && !Array.isArray(cookie) ? { ...cookie } : undefined };
  return cookie;
}

function parseJson(field: string, value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    throw new CorruptSessionError(`field "${field}" is not valid JSON`);
  }
}
