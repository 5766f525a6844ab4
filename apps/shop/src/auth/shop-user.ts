import type { SessionUser } from 'nest-redis-session';

// The shop's user, declared to the library once: `session.user` is then typed everywhere, with no cast.
declare module 'nest-redis-session' {
  interface SessionUser {
    id: number;
    username: string;
  }
}

/** The logged-in user as the API shows it: only these fields, whatever else a session's user may carry. */
export type ShopUser = Pick<SessionUser, 'id' | 'username'>;
