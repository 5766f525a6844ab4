import type { NextFunction, Request, RequestHandler, Response } from 'express';
import session from 'express-session';
import { messages } from '../errors/session.messages';
import type { ResolvedSessionOptions } from '../options/resolved-options';
import type { RedisSessionStore } from '../store/redis-session-store';
import { newSessionId } from '../store/session-key';
import { hasValidSignature, readCookie } from './cookie-signature';
import { deferSession, markUnavailable } from './lazy-session';
import { requestAwareStore } from './request-aware-store';

const NEXT_ID = Symbol('nest-redis-session:next-id');

type Logger = { warn(message: string): void; error(message: string): void };

/** Makes the next session generated for this request take the given ID (login picks it in advance). */
export function useSessionIdNext(req: Request, id: string): void {
  (req as Request & { [NEXT_ID]?: string })[NEXT_ID] = id;
}

/**
 * express-session, with what it lacks for replicas behind a load balancer:
 * - no session work at all for a visitor without a cookie until code reads `req.session`;
 * - a 503 (on first read of `req.session`) rather than an anonymous visitor when Redis fails;
 * - a save that fails after the response started cuts the connection instead of passing silently.
 */
export function createSessionMiddleware(
  options: Pick<ResolvedSessionOptions, 'secrets' | 'cookie' | 'trustProxy'>,
  store: RedisSessionStore,
  logger: Logger,
): RequestHandler {
  const { name, ...cookie } = options.cookie;
  const secrets = options.secrets;
  const expressSession = session({
    store: requestAwareStore(store, logger),
    secret: secrets,
    name,
    cookie,
    proxy: options.trustProxy,
    resave: false,
    saveUninitialized: false,
    rolling: false,
    unset: 'keep',
    genid(req) {
      const chosen = (req as Request & { [NEXT_ID]?: string })[NEXT_ID];
      if (chosen) {
        (req as Request & { [NEXT_ID]?: string })[NEXT_ID] = undefined;
        return chosen;
      }
      explainRefusedCookie(req, name, secrets, logger);
      return newSessionId();
    },
  });

  function runExpressSession(req: Request, res: Response, next: NextFunction): void {
    const { end, writeHead } = res;
    let loaded = false;
    expressSession(req, res, (error?: unknown) => {
      if (loaded) return; // a late save error: requestAwareStore has handled and logged it
      loaded = true;
      if (!error) return next();
      // No session to save: drop express-session's end-of-request hooks and make reads answer 503.
      res.end = end;
      res.writeHead = writeHead;
      markUnavailable(req, error);
      next();
    });
  }

  return function nestRedisSession(req: Request, res: Response, next: NextFunction): void {
    if (readCookie(req.headers.cookie, name) === undefined) {
      deferSession(req, () => runExpressSession(req, res, () => undefined));
      return next();
    }
    runExpressSession(req, res, next);
  };
}

/** express-session drops a badly signed cookie without a word; say so, since it may be an attack or a rotated-out secret. */
function explainRefusedCookie(req: Request, name: string, secrets: string[], logger: Logger): void {
  const raw = readCookie(req.headers.cookie, name);
  if (raw !== undefined && !hasValidSignature(raw, secrets)) logger.warn(messages.invalidSignature());
}
