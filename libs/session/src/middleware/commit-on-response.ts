import { HttpException } from '@nestjs/common';
import type { Request, Response } from 'express';
import { toHttpException } from '../errors/to-http-exception';
import type { RedisSessionStore } from '../store/redis-session-store';
import { signCookie } from './cookie-signature';
import { ownSession } from './lazy-session';
import { isSecureRequest } from './secure-request';

type Logger = { error(message: string): void };

export interface CommitOptions {
  cookieName: string;
  secret: string;
  trustProxy?: boolean;
  logger: Logger;
  store: RedisSessionStore;
}

/** One request's commit state, found by the response hooks under a symbol. */
interface Commit {
  req: Request;
  cookieId: string | undefined;
  options: CommitOptions;
  ending: boolean;
}

const COMMIT = Symbol('nest-redis-session:commit');
type CommitResponse = Response & { [COMMIT]?: Commit };
type Method = (this: Response, ...args: unknown[]) => unknown;

const hooked = new WeakSet<object>();

/**
 * Puts `writeHead` and `end` hooks on the app's response prototype, once. They act only on responses
 * marked by `commitOnResponse` and pass the others straight through. Why on the prototype: wrapping
 * two methods on every response costs a request more than the rest of the session work.
 */
export function installResponseHooks(responsePrototype: object): void {
  if (hooked.has(responsePrototype)) return;
  hooked.add(responsePrototype);
  const proto = responsePrototype as Record<'writeHead' | 'end', Method>;
  const writeHead = proto.writeHead;
  const end = proto.end;
  Object.defineProperty(proto, 'writeHead', {
    configurable: true,
    writable: true,
    value: function writeHeadWithCookie(this: CommitResponse, ...args: unknown[]) {
      const commit = this[COMMIT];
      if (commit) setCookie(commit, this);
      return writeHead.apply(this, args);
    },
  });
  Object.defineProperty(proto, 'end', {
    configurable: true,
    writable: true,
    value: function endAfterSave(this: CommitResponse, ...args: unknown[]) {
      const commit = this[COMMIT];
      if (!commit || commit.ending) return end.apply(this, args);
      commit.ending = true;
      return saveThenEnd(commit, this, () => end.apply(this, args));
    },
  });
}

/**
 * Hooks the response of a request that has a session: the cookie goes out with the headers when the
 * session is new (and holds something) or persistent, and changes reach Redis before the response
 * ends. A save that fails before the headers are out replaces the answer with the error's (503 when
 * Redis failed); after they are out (a streamed response), the connection is cut, so the client never
 * takes a lost change for a success. Needs `installResponseHooks` on the response's prototype.
 */
export function commitOnResponse(req: Request, res: Response, cookieId: string | undefined, options: CommitOptions): void {
  (res as CommitResponse)[COMMIT] = { req, cookieId, options, ending: false };
}

function saveThenEnd(commit: Commit, res: Response, finish: () => unknown): unknown {
  const { req, cookieId, options } = commit;
  const session = ownSession(req);
  if (!session || (req.sessionID !== cookieId && !hasData(session))) return finish();
  session.touch(); // a persistent cookie's expiry slides with every request, as express-session does
  const saving = options.store.saveChanges(req.sessionID, session);
  if (!saving) return finish();
  saving.then(finish, (error: unknown) => {
    options.logger.error(`Saving the session at the end of ${req.method} ${req.originalUrl} failed: ${(error as Error)?.message}`);
    if (!res.headersSent) return answerFailure(res, error);
    res.destroy();
  });
  return res;
}

function setCookie({ req, cookieId, options }: Commit, res: Response): void {
  const session = ownSession(req);
  if (!session) return;
  const isNew = req.sessionID !== cookieId;
  if (isNew ? !hasData(session) : session.cookie.expires == null) return; // nothing to tell the browser
  if (session.cookie.secure && !isSecureRequest(req, options.trustProxy)) return;
  session.touch();
  // express-session's Cookie serializes itself; its typings leave the method out.
  const cookie = session.cookie as unknown as { serialize(name: string, value: string): string };
  res.append('Set-Cookie', cookie.serialize(options.cookieName, signCookie(req.sessionID, options.secret)));
}

/** Replaces the handler's answer with the error's, in Nest's JSON shape (503 when Redis failed). */
function answerFailure(res: CommitResponse, error: unknown): void {
  const exception = toHttpException(error);
  const status = exception instanceof HttpException ? exception.getStatus() : 500;
  const response = exception instanceof HttpException ? exception.getResponse() : undefined;
  const body = JSON.stringify(
    typeof response === 'object' && response !== null
      ? response
      : { statusCode: status, message: (error as Error)?.message ?? String(error), error: 'Internal Server Error' },
  );
  // The handler's body is replaced; headers such as X-Replica stay.
  for (const header of ['content-type', 'content-length', 'etag', 'set-cookie']) res.removeHeader(header);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res[COMMIT] = undefined; // this end is the final one: no second save
  res.end(body);
}

/** A new session is stored (and gets a cookie) only once it holds something. */
function hasData(session: object): boolean {
  for (const key in session) if (key !== 'cookie') return true;
  return false;
}
