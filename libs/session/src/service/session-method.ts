import type { Session } from 'express-session';

type SessionMethod = 'save' | 'destroy' | 'reload';

/** Calls one of express-session's callback-style Session methods and awaits it. */
export function awaitSessionMethod(session: Session, method: SessionMethod): Promise<void> {
  return new Promise((resolve, reject) => {
    (session[method] as (callback: (error?: Error) => void) => unknown).call(session, (error?: Error) => (error ? reject(error) : resolve()));
  });
}
