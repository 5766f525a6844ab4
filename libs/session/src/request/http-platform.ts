import type { Session, SessionData } from 'express-session';

/** The request fields the lifecycle reads and writes, named as express-session (and passport) expect. */
export interface SessionRequest {
  session: Session & Partial<SessionData>;
  sessionID: string;
}

/**
 * What the request lifecycle needs from a web framework: reading the request, writing a cookie,
 * replacing a failed answer, and running the lifecycle's way-out steps. `ExpressPlatform` and
 * `FastifyPlatform` implement it; another framework gets its own without touching the store or the service.
 */
export interface HttpPlatform {
  /**
   * Once per app: make `req.session` call `sessionOnFirstRead` while the request has no session of its
   * own, expose `sessionStore` on every request, and run `beforeHeaders`/`beforeEnd` of the request's
   * lifecycle on the way out.
   */
  install(sessionStore: object): void;
  cookieHeader(req: SessionRequest): string | undefined;
  /** A request header's value; `name` is lower case. Undefined when the request did not send it. */
  header(req: SessionRequest, name: string): string | undefined;
  /** The path the request was made to, before any routing rewrote it. */
  path(req: SessionRequest): string;
  isHttps(req: SessionRequest, trustProxy: boolean | undefined): boolean;
  /** The response of a request the way in handled (logout clears the cookie on it). */
  responseOf(req: SessionRequest): object | undefined;
  appendCookie(res: object, setCookie: string): void;
  /** Sets a response header, replacing any earlier value of it. */
  setHeader(res: object, name: string, value: string): void;
  /** Replaces the handler's answer with the error's, or cuts the connection once headers are out. */
  fail(res: object, exception: unknown, error: unknown): void;
  /** The status the response will answer with, as the handler (or an exception filter) set it. */
  statusCode(res: object): number;
  /** "METHOD url", for logs. */
  describe(req: SessionRequest): string;
}
