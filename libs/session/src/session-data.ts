import type { Session as ExpressSession, SessionData } from 'express-session';

/** The logged-in user as the session keeps it; `id` keys the user's session index. */
export interface SessionUser {
  id: string | number;
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
