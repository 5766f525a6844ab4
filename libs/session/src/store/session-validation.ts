import { Cookie, Session } from 'express-session';
import { messages } from '../errors/session.messages';
import { SessionDataError } from '../errors/session-data.error';
import { MAX_EXPIRY_MS } from '../redis/session-fields';

const SESSION_PROTOTYPE: object = (Session as unknown as { prototype: object }).prototype;
const COOKIE_CLASS = Cookie as unknown as new (options: object) => object;

/*
 * What app code can put in a session that must never reach a save, a cookie or Redis. Checked in the
 * request's way out before anything is written, so a bad value answers the library's clear 500 and
 * changes nothing; keys and values are checked while the save diffs them (session-codec.ts).
 *
 * The session and its cookie are checked by shape, not by identity: an app that pins another
 * express-session range than the library's gets its own copy of the package (npm nests ours), and
 * its sessions are instances of that copy's classes. What the shape check refuses is what an attack
 * or a bug produces: a prototype replaced through `__proto__` (from JSON, data only: no methods, no
 * accessors) or a cookie that is a plain object, a string or null.
 */

/** The methods every express-session Session has (1.17 and later), on its prototype, not inherited. */
const SESSION_METHODS = ['touch', 'resetMaxAge', 'save', 'reload', 'destroy', 'regenerate'];
/** express-session's Cookie: accessors that keep `expires` and `maxAge` in step, and its serializers. */
const COOKIE_ACCESSORS = ['expires', 'maxAge'];
const COOKIE_METHODS = ['serialize', 'toJSON'];

/** Prototypes already found to have the shape (another copy's classes), so each is checked once. */
const sessionShaped = new WeakSet<object>([SESSION_PROTOTYPE]);
const cookieShaped = new WeakSet<object>([COOKIE_CLASS.prototype]);

/** Names the request's session class adds to express-session's Session (`get`, `set`, `sessionId`, …). */
const addedMembers = new Set<string>();

/**
 * Lets a subclass of express-session's Session (the request's session class) pass the shape check;
 * the members it adds become forbidden keys, as the Session's own are.
 */
export function trustSessionPrototype(prototype: object): void {
  sessionShaped.add(prototype);
  for (const name of Object.getOwnPropertyNames(prototype)) if (!(name in SESSION_PROTOTYPE)) addedMembers.add(name);
}

/**
 * Throws a `SessionDataError` when the session object itself was damaged: its prototype replaced
 * (`session.__proto__ = …`) or its cookie no longer a cookie. `requireCookieClass`: the request's
 * session must keep an express-session Cookie (it serializes and slides itself); the store's API also
 * takes plain objects, as express-session's own stores do.
 */
export function checkSessionObject(session: object, requireCookieClass: boolean): void {
  const prototype: unknown = Object.getPrototypeOf(session);
  if (prototype !== Object.prototype && !hasShape(prototype, sessionShaped, isSessionPrototype)) {
    throw new SessionDataError(messages.forbiddenKey('__proto__'), '__proto__');
  }
  const cookie = (session as { cookie?: unknown }).cookie;
  if (cookie === null || typeof cookie !== 'object' || (requireCookieClass && !isCookie(cookie))) {
    throw new SessionDataError(messages.notACookie(describe(cookie)), 'cookie');
  }
  const { originalMaxAge } = cookie as { originalMaxAge?: unknown };
  if (originalMaxAge != null && !(typeof originalMaxAge === 'number' && Number.isFinite(originalMaxAge))) {
    throw new SessionDataError(messages.invalidCookieField('originalMaxAge', describe(originalMaxAge)), 'cookie');
  }
  for (const field of COOKIE_TEXT_FIELDS) {
    const value = (cookie as Record<string, unknown>)[field];
    if (value != null && !(typeof value === 'string' && value.length <= MAX_COOKIE_ATTRIBUTE_LENGTH)) {
      throw new SessionDataError(messages.invalidCookieText(field, MAX_COOKIE_ATTRIBUTE_LENGTH, describe(value)), 'cookie');
    }
  }
}

/*
 * The cookie's attributes whose values are free text. The cookie package's serializer turns anything
 * into a string first, so an array or an object would pass its character check and go out as a
 * Set-Cookie header of any size; and browsers ignore an attribute value above 1,024 bytes (RFC 6265bis
 * 5.6), which would silently scope the session cookie to another path or host.
 */
const COOKIE_TEXT_FIELDS = ['path', 'domain'] as const;
const MAX_COOKIE_ATTRIBUTE_LENGTH = 1024;

function isCookie(cookie: object): boolean {
  return cookie instanceof COOKIE_CLASS || hasShape(Object.getPrototypeOf(cookie), cookieShaped, isCookiePrototype);
}

/** Whether `prototype` passes `check` (an object straight over Object.prototype), remembered once it did. */
function hasShape(prototype: unknown, known: WeakSet<object>, check: (prototype: object) => boolean): boolean {
  if (prototype === null || typeof prototype !== 'object') return false;
  if (known.has(prototype)) return true;
  if (Object.getPrototypeOf(prototype) !== Object.prototype || !check(prototype)) return false;
  known.add(prototype);
  return true;
}

/**
 * An express-session Session prototype, whichever copy: its methods, and nothing but methods (a
 * prototype that carries data is a replaced one, whatever else it has).
 */
function isSessionPrototype(prototype: object): boolean {
  const own = Object.getOwnPropertyDescriptors(prototype);
  if (!SESSION_METHODS.every((name) => typeof own[name]?.value === 'function')) return false;
  return Object.values(own).every((descriptor) => typeof descriptor.value === 'function');
}

/** An express-session Cookie prototype, whichever copy: `expires` and `maxAge` accessors, `serialize` and `toJSON`. */
function isCookiePrototype(prototype: object): boolean {
  const own = Object.getOwnPropertyDescriptors(prototype);
  return (
    COOKIE_ACCESSORS.every((name) => typeof own[name]?.get === 'function' && typeof own[name]?.set === 'function') &&
    COOKIE_METHODS.every((name) => typeof own[name]?.value === 'function')
  );
}

/**
 * A session key that would not survive a reload: express-session's Session skips keys it inherits
 * (`save`, `touch`, `constructor`, `toString`, …), so does the request's session class (`get`, `set`,
 * `sessionId`), and `__proto__` or `prototype` invite prototype tricks. Names starting with ':' are
 * the library's own fields, checked where the codec reads them.
 */
export function isForbiddenKey(key: string): boolean {
  return key in SESSION_PROTOTYPE || key === 'prototype' || addedMembers.has(key);
}

/** The expiry in ms since the epoch, or a `SessionDataError` when it is not a date a cookie and Redis can hold. */
export function checkedExpiry(at: number, source: unknown): number {
  if (!Number.isFinite(at) || at > MAX_EXPIRY_MS || at < 0) throw new SessionDataError(messages.invalidExpiry(describe(source)), 'cookie');
  return Math.ceil(at);
}

/** A short description of an unexpected value for a message: its type, and the value when it is short. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'an invalid date' : `the date ${value.toISOString()}`;
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'string') return `a string (${JSON.stringify(value.slice(0, 40))})`;
  return `a value of type ${typeof value}`;
}
