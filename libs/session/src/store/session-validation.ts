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
 */

/**
 * Throws a `SessionDataError` when the session object itself was damaged: its prototype replaced
 * (`session.__proto__ = …`) or its cookie no longer a cookie. `requireCookieClass`: the request's
 * session must keep express-session's Cookie (it serializes and slides itself); the store's API also
 * takes plain objects, as express-session's own stores do.
 */
export function checkSessionObject(session: object, requireCookieClass: boolean): void {
  const prototype: unknown = Object.getPrototypeOf(session);
  if (prototype !== SESSION_PROTOTYPE && prototype !== Object.prototype) {
    throw new SessionDataError(messages.forbiddenKey('__proto__'), '__proto__');
  }
  const cookie = (session as { cookie?: unknown }).cookie;
  if (requireCookieClass ? !(cookie instanceof COOKIE_CLASS) : cookie === null || typeof cookie !== 'object') {
    throw new SessionDataError(messages.notACookie(describe(cookie)), 'cookie');
  }
  const { originalMaxAge } = cookie as { originalMaxAge?: unknown };
  if (originalMaxAge != null && !(typeof originalMaxAge === 'number' && Number.isFinite(originalMaxAge))) {
    throw new SessionDataError(messages.invalidCookieField('originalMaxAge', describe(originalMaxAge)), 'cookie');
  }
}

/**
 * A session key that would not survive a reload: express-session's Session skips keys it inherits
 * (`save`, `touch`, `constructor`, `toString`, …) and `__proto__` or `prototype` invite prototype tricks.
 * Names starting with ':' are the library's own fields, checked where the codec reads them.
 */
export function isForbiddenKey(key: string): boolean {
  return key in SESSION_PROTOTYPE || key === 'prototype';
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
