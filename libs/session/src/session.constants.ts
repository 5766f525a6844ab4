/** Injection token of the ioredis client (standalone, Sentinel or Cluster) that holds the sessions. */
export const SESSION_REDIS = 'session:redis';
/** Injection token of the validated options, with every default filled in. */
export const SESSION_OPTIONS = 'session:options';
/** Metadata key set by `@PublicRoute()`: a guard from this library lets the route through. */
export const PUBLIC_ROUTE = 'session:public';
/** Metadata key set by `@SkipCsrf()`: `CsrfGuard` does not check the route. */
export const SKIP_CSRF = 'session:skip-csrf';
/** Header that carries the CSRF token on unsafe requests. */
export const CSRF_HEADER = 'x-csrf-token';
/** Session key that holds the logged-in user, as express-session and passport users expect. */
export const USER_KEY = 'user';
/** Session key that holds the CSRF token. */
export const CSRF_KEY = 'csrfToken';
