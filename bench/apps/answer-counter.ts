import type { IncomingMessage, ServerResponse } from 'node:http';

/** What the app answered, for the bench to compare with what the session kept. */
export interface AnswerCounts {
  /** 2xx answers the app finished sending to "add one to the cart" (`POST /cart/items`). */
  acknowledged: number;
  /**
   * Requests received and not yet finished or abandoned. A handler may still write after its client
   * left (a queued update, express-session's save), so the bench also waits for Redis to go quiet.
   */
  inFlight: number;
}

/**
 * Middleware counting acknowledged additions, on Node's own request and response: Express mounts it
 * as it is, Fastify calls it from an `onRequest` hook with `request.raw` and `reply.raw`. It counts on
 * 'finish', once the answer is handed to the socket: express-session and @fastify/session save before
 * that, `SessionService.update` long before, so a counted addition is one the client was (or would
 * have been) told was done.
 */
export function countAnswers(): { counts: AnswerCounts; middleware(req: IncomingMessage, res: ServerResponse, next: () => void): void } {
  const counts: AnswerCounts = { acknowledged: 0, inFlight: 0 };
  return {
    counts,
    middleware(req, res, next) {
      // A request abandoned while a session layer mounted earlier was still loading arrives here
      // with its socket closed: 'close' has already fired and would never bring inFlight back down.
      if (req.socket.destroyed) return next();
      counts.inFlight++;
      const adds = req.method === 'POST' && req.url?.split('?', 1)[0] === '/cart/items';
      res.once('finish', () => {
        if (adds && res.statusCode >= 200 && res.statusCode < 300) counts.acknowledged++;
      });
      res.once('close', () => counts.inFlight--);
      next();
    },
  };
}
