import { Cookie } from 'express-session';

type CookieConstructor = new (options?: object) => Cookie;

const CookieBase = Cookie as unknown as CookieConstructor;
const maxAge = Object.getOwnPropertyDescriptor(CookieBase.prototype, 'maxAge')!;

/**
 * The cookie of a request's session: express-session's Cookie, except that
 * - setting `maxAge` to something that is not a number of ms does not throw inside the handler
 *   (express-session's TypeError, which Nest answers with a bare "Internal server error"). It leaves an
 *   invalid expiry instead, which the save refuses before writing anything, with the library's message
 *   naming the cookie;
 * - `originalMaxAge` is the `maxAge` given, at construction and whenever a number is set (as
 *   `touch()` does on every request). express-session reads it back from the expiry it has just set,
 *   against the clock, so a millisecond passing in between gives 59,999 for 60,000: the settings then
 *   differ from the module's template, the session stores them in Redis for nothing, and each such
 *   request shortens a persistent cookie's window by another millisecond.
 */
export class SessionCookie extends CookieBase {
  constructor(options?: object) {
    super(options);
    const { maxAge: given, originalMaxAge } = (options ?? {}) as { maxAge?: unknown; originalMaxAge?: unknown };
    if (typeof given === 'number' && originalMaxAge == null) this.originalMaxAge = given;
  }
}

Object.defineProperty(SessionCookie.prototype, 'maxAge', {
  configurable: true,
  enumerable: maxAge.enumerable,
  get(this: Cookie): unknown {
    return maxAge.get!.call(this);
  },
  set(this: Cookie, ms: unknown) {
    const valid = ms == null || typeof ms === 'number' || ms instanceof Date;
    maxAge.set!.call(this, valid ? ms : Number.NaN);
    if (typeof ms === 'number' && Number.isFinite(ms)) this.originalMaxAge = ms;
  },
});
