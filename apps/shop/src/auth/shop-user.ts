import type { SessionUser } from '@app/session';

// The shop's user, declared to the library once: `session.user` is then typed everywhere, with no cast.
// (An app that installs the package writes `declare module 'nest-redis-session'`; here the package is `@app/session`.)
declare module '@app/session' {
  interface SessionUser {
    id: number;
    username: string;
  }
}

/** The logged-in user as the API shows it: only these fields, whatever else a session's user may carry. */
export type ShopUser = Pick<SessionUser, 'id' | 'username'>;
