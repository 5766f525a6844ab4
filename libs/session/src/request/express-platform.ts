import type { Request, Response } from 'express';
import { isHttpsRequest } from '../cookie/secure-cookie';
import { failureAnswer } from './failure-response';
import type { HttpPlatform, SessionRequest } from './http-platform';
import { answersStoreFailure, noteUnavailable, stateOf } from './request-state';
import { sessionOnFirstRead } from './session-lifecycle';

type Method = (this: Response, ...args: unknown[]) => unknown;

const installed = new WeakSet<object>();

/**
 * Express (and Nest's Express adapter) behind `HttpPlatform`. Its hooks sit on the app's request and
 * response prototypes rather than on each request: defining properties per request changes every
 * request object's shape, which slows each later property read by Express and Nest, and wrapping two
 * response methods per request costs more than the rest of the session work.
 */
export class ExpressPlatform implements HttpPlatform {
  constructor(private readonly app: { request: object; response: object }) {}

  install(sessionStore: object): void {
    // Every request of the app sees the same store: a prototype property, not one more per request.
    Object.defineProperty(this.app.request, 'sessionStore', { value: sessionStore, writable: true, configurable: true });
    if (installed.has(this.app.request)) return;
    installed.add(this.app.request);
    installSessionAccessor(this.app.request);
    installWayOut(this.app.response);
  }

  cookieHeader(req: SessionRequest): string | undefined {
    return (req as unknown as Request).headers.cookie;
  }

  header(req: SessionRequest, name: string): string | undefined {
    const value = (req as unknown as Request).headers[name];
    // Node joins repeated custom headers with ", "; an array only comes for set-cookie, never asked for here.
    return Array.isArray(value) ? value.join(', ') : value;
  }

  path(req: SessionRequest): string {
    return (req as unknown as Request).originalUrl;
  }

  isHttps(req: SessionRequest, trustProxy: boolean | undefined): boolean {
    const request = req as unknown as Request;
    return isHttpsRequest(request, trustProxy, request.secure === true);
  }

  responseOf(req: SessionRequest): object | undefined {
    return (req as unknown as Request).res;
  }

  appendCookie(res: object, setCookie: string): void {
    (res as Response).append('Set-Cookie', setCookie);
  }

  setHeader(res: object, name: string, value: string): void {
    (res as Response).setHeader(name, value);
  }

  fail(res: object, exception: unknown, error: unknown): void {
    const response = res as Response;
    if (response.headersSent) {
      response.destroy();
      return;
    }
    const { status, body } = failureAnswer(exception, error);
    // The handler's body is replaced; headers such as X-Replica stay.
    for (const header of ['content-type', 'content-length', 'etag', 'set-cookie']) response.removeHeader(header);
    response.statusCode = status;
    response.setHeader('Content-Type', 'application/json; charset=utf-8');
    response.setHeader('Content-Length', Buffer.byteLength(body));
    response.end(body);
  }

  statusCode(res: object): number {
    return (res as Response).statusCode;
  }

  describe(req: SessionRequest): string {
    const request = req as unknown as Request;
    return `${request.method} ${request.originalUrl}`;
  }
}

/** A request that has its session holds it as an own property, which hides this accessor. */
function installSessionAccessor(requestPrototype: object): void {
  Object.defineProperty(requestPrototype, 'session', {
    configurable: true,
    enumerable: false,
    get(this: SessionRequest) {
      return sessionOnFirstRead(this);
    },
    set(this: SessionRequest, value: unknown) {
      Object.defineProperty(this, 'session', { value, writable: true, configurable: true, enumerable: true });
    },
  });
}

/** `writeHead` sends the cookie, `end` waits for the save; responses without a live session pass straight through. */
function installWayOut(responsePrototype: object): void {
  const proto = responsePrototype as Record<'writeHead' | 'end', Method>;
  const writeHead = proto.writeHead;
  const end = proto.end;
  replaceMethod(proto, 'writeHead', function writeHeadWithCookie(this: Response, ...args: unknown[]) {
    const req = this.req as unknown as SessionRequest | undefined;
    const state = req && stateOf(req);
    if (state?.phase === 'live') state.lifecycle.beforeHeaders(req!, state, this);
    if (answersStoreFailure(req!, state, this.statusCode)) noteUnavailable(req!, state);
    return writeHead.apply(this, args);
  });
  replaceMethod(proto, 'end', function endAfterSave(this: Response, ...args: unknown[]) {
    const req = this.req as unknown as SessionRequest | undefined;
    const state = req && stateOf(req);
    if (state?.phase !== 'live') return end.apply(this, args);
    if (state.ending) {
      if (!state.saving) return end.apply(this, args);
      state.lifecycle.dropSecondAnswer(req!, state);
      return this;
    }
    let first: AnswerHead | undefined;
    const answer = state.lifecycle.beforeEnd(req!, state, this, () => {
      if (first && state.answeredTwice) putBack(this, first);
      return end.apply(this, args);
    });
    // Waiting for the save: a second answer meanwhile (Nest answering a handler's throw after its
    // `res.send`) sets its own status and headers before its `end`, which is dropped; these come back.
    if (state.saving) first = { statusCode: this.statusCode, statusMessage: this.statusMessage, headers: this.getHeaders() };
    return answer;
  });
}

/** What an answer set before its `end`: its status and headers. */
interface AnswerHead {
  statusCode: number;
  statusMessage: string;
  headers: ReturnType<Response['getHeaders']>;
}

function putBack(res: Response, head: AnswerHead): void {
  for (const name of res.getHeaderNames()) if (!(name in head.headers)) res.removeHeader(name);
  for (const [name, value] of Object.entries(head.headers)) if (value !== undefined) res.setHeader(name, value);
  res.statusCode = head.statusCode;
  res.statusMessage = head.statusMessage;
}

function replaceMethod(proto: object, name: string, value: Method): void {
  Object.defineProperty(proto, name, { configurable: true, writable: true, value });
}
