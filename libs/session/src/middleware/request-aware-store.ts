import { EventEmitter } from 'node:events';
import type { Response } from 'express';
import type { SessionData, Store } from 'express-session';
import type { RedisSessionStore } from '../store/redis-session-store';

type Logger = { error(message: string): void };
type SessionWithRequest = SessionData & { req?: { res?: Response } };

/**
 * The store as express-session sees it: the real store underneath, with two changes.
 * - Its own event listeners: express-session treats every request as anonymous while its store
 *   reports 'disconnect'; we answer 503 instead, so the events it listens to never fire.
 * - express-session saves at the end of a request after the handler has answered and the headers are
 *   out. If that save fails after a successful answer, the connection is cut so the client sees a
 *   failed request rather than a success whose change was lost; a save the handler awaits just
 *   fails with the error.
 */
export function requestAwareStore(store: RedisSessionStore, logger: Logger): Store {
  const facade = Object.create(store) as RedisSessionStore;
  EventEmitter.call(facade);
  const failLate = (session: SessionWithRequest, error: unknown) => {
    const res = session.req?.res;
    // Only a success would mislead; an error answer (a 503 from the same outage) already tells the truth.
    if (res?.headersSent && !res.writableEnded && res.statusCode < 400) {
      logger.error(`Session save after the response failed; closing the connection so the client sees the failure: ${(error as Error)?.message}`);
      res.destroy();
    }
  };
  facade.set = (sid: string, session: SessionData, callback?: (error?: unknown) => void) =>
    store.set(sid, session).then(
      () => callback?.(),
      (error) => {
        failLate(session as SessionWithRequest, error);
        callback?.(error);
      },
    );
  facade.touch = (sid: string, session: SessionData, callback?: (error?: unknown) => void) =>
    store.touch(sid, session).then(
      () => callback?.(),
      (error) => {
        failLate(session as SessionWithRequest, error);
        callback?.(error);
      },
    );
  return facade;
}
