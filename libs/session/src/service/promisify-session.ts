import type { Session } from 'express-session';

type SessionMethod = 'save' | 'destroy' | 'reload' | 'regenerate';

/** Calls one of express-session's callback methods and returns a promise. */
export function callSession(session: Session, method: SessionMethod): Promise<void> {
  return new Promise((resolve, reject) => {
    (session[method] as (callback: (error?: unknown) => void) => unknown).call(session, (error?: unknown) =>
      error ? reject(error) : resolve(),
    );
  });
}
