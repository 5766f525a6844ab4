import type { SessionData } from 'express-session';
import type { SessionUserId } from '../options/session-options.interface';
import { messages } from '../errors/session.messages';

/**
 * The default: the library's own `session.user.id` (set by `SessionService.login`), else passport's
 * `session.passport.user` when the serializer stored a string or number there.
 */
export const defaultSessionUserId: SessionUserId = (session) => {
  const own = session.user?.id;
  if (typeof own === 'string' || typeof own === 'number') return own;
  const passport = (session as { passport?: { user?: unknown } }).passport?.user;
  if (typeof passport === 'string' || typeof passport === 'number') return passport;
  return undefined;
};

/**
 * A user id as the index keys it (a string) when it is one: a non-empty string of well-formed Unicode
 * (a lone surrogate, which a JSON body can carry as "\ud800", has no URI encoding for the index's key)
 * or a finite number; else undefined.
 */
export function userIdKey(id: unknown): string | undefined {
  if (typeof id === 'string') return id !== '' && !LONE_SURROGATE.test(id) ? id : undefined;
  return typeof id === 'number' && Number.isFinite(id) ? String(id) : undefined;
}

/** A high surrogate with no low one after it, or a low one with no high one before it. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The user id as the index keys it (a string), or undefined; throws on anything else the function answers. */
export function indexUserIdOf(userId: SessionUserId, session: object): string | undefined {
  const id = userId(session as SessionData);
  if (id === undefined || id === null) return undefined;
  const key = userIdKey(id);
  if (key !== undefined) return key;
  throw new TypeError(messages.badUserId(typeof id === 'string' ? JSON.stringify(id.slice(0, 40)) : typeof id === 'object' ? 'an object' : String(id)));
}
