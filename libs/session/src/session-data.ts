import type { Session as ExpressSession, SessionData } from 'express-session';

/**
 * The logged-in user as the session keeps it (`SessionService.login` sets it, `req.session.user` and
 * `@Session('user')` read it); `id` keys the user's session index. Type your user's fields through
 * declaration merging, as express-session's `SessionData`:
 *
 * ```ts
 * declare module 'nest-redis-session' {
 *   interface SessionUser {
 *     id: string; // optional: narrows `string | number`
 *     name: string;
 *     roles: string[];
 *   }
 * }
 * ```
 *
 * Then `req.session.user?.name` is a `string` and `login` requires every declared field. Undeclared
 * fields read as `unknown`. `id` comes from the `Record` this extends, not from a member of its own, so
 * that a merged declaration may narrow it (two members of one interface must have the same type).
 */
export interface SessionUser extends Record<'id', string | number> {
  [field: string]: unknown;
}

declare module 'express-session' {
  interface SessionData {
    /** Set by `SessionService.login`; `AuthenticatedGuard` requires it. */
    user?: SessionUser;
    /** Set by `SessionService.csrfToken`; `CsrfGuard` compares it with the request's header. */
    csrfToken?: string;
  }
}

/**
 * The session of a request, typed through express-session's `SessionData` declaration merging: add
 * your keys with `declare module 'express-session' { interface SessionData { cart: CartLine[] } }`.
 */
export type AppSession = ExpressSession & Partial<SessionData>;

/** A top-level key of the session. */
export type SessionKey = Exclude<keyof SessionData, 'cookie'> & string;
