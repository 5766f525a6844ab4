import type { FastifyInstance, FastifyReply, FastifyRequest, onSendHookHandler } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { isHttpsRequest } from '../cookie/secure-cookie';
import { failureAnswer } from './failure-response';
import type { HttpPlatform, SessionRequest } from './http-platform';
import { STATE, answersStoreFailure, noteUnavailable, stateOf } from './request-state';
import { sessionOnFirstRead } from './session-lifecycle';

type Request = FastifyRequest & SessionRequest;
type Done = (error: Error | null, payload?: unknown) => void;
type WayIn = (req: SessionRequest, next: (error?: unknown) => void) => void;

/** The reply of a request, kept by the way in: logout clears the cookie on it. */
const REPLY = Symbol('nest-redis-session:reply');
/** The `onSend` continuation of a reply whose session is being saved: `fail` replaces the payload through it. */
const SENDING = Symbol('nest-redis-session:sending');

type KeptReply = FastifyReply & { [SENDING]?: Done };

/** What `install` set up per Fastify instance: the store can be swapped, the hooks stay. */
const installed = new WeakMap<object, { sessionStore: object }>();

/**
 * Fastify (and Nest's Fastify adapter) behind `HttpPlatform`. `req.session`, `req.sessionStore` and
 * `req.sessionID` are request decorators, so every request keeps one shape; the way in is an
 * `onRequest` hook (or `preParsing`, after Nest middleware, when the module is limited to some
 * routes), and the way out is an `onSend` hook: the session is saved and its cookie set before Fastify
 * writes anything, and `done` is called only then, so the reply never races the save.
 *
 * A hijacked reply (`reply.hijack()`, a handler writing `reply.raw`) skips `onSend`: its handler saves
 * with `await req.session.save()` before writing, as the README says.
 */
export class FastifyPlatform implements HttpPlatform {
  /** Raw requests Nest's middleware consumer marked as routes with session handling (`forRoutes`, `exclude`). */
  private readonly routed = new WeakSet<IncomingMessage>();

  constructor(private readonly app: FastifyInstance) {}

  install(sessionStore: object): void {
    const kept = installed.get(this.app);
    if (kept) {
      kept.sessionStore = sessionStore;
      return;
    }
    const holder = { sessionStore };
    installed.set(this.app, holder);
    this.app.decorateRequest('sessionStore', {
      getter() {
        return holder.sessionStore;
      },
    });
    this.app.decorateRequest('sessionID', undefined as unknown as string);
    // The slots the way in fills on every request, declared so Fastify's request objects keep one shape
    // (a property added per request would give them another hidden class, Fastify's own advice).
    this.app.decorateRequest(STATE as unknown as string, undefined);
    this.app.decorateRequest(REPLY as unknown as string, undefined);
    // A request that has its session holds it as an own property, which hides this accessor.
    this.app.decorateRequest('session', {
      getter(this: FastifyRequest) {
        return sessionOnFirstRead(this as Request);
      },
      setter(this: FastifyRequest, value: unknown) {
        Object.defineProperty(this, 'session', { value, writable: true, configurable: true, enumerable: true });
      },
    });
    this.app.addHook('onSend', wayOut);
  }

  /**
   * Runs the way in on every request (`onRequest`), or, with `afterMiddleware`, only on the requests
   * Nest's middleware consumer marked with `markRouted` (`preParsing`, which comes after it).
   */
  mountWayIn(handle: WayIn, afterMiddleware: boolean): void {
    if (!afterMiddleware) {
      this.app.addHook('onRequest', (request, reply, done) => {
        (request as Request & { [REPLY]?: FastifyReply })[REPLY] = reply;
        handle(request as Request, done as (error?: unknown) => void); // Fastify's `done` takes the error, or nothing
      });
      return;
    }
    this.app.addHook('preParsing', (request, reply, payload, done) => {
      if (!this.routed.has(request.raw)) return done(null, payload);
      (request as Request & { [REPLY]?: FastifyReply })[REPLY] = reply;
      handle(request as Request, (error) => done((error as Error | undefined) ?? null, payload));
    });
  }

  /** Called by the module's Nest middleware (which sees the raw request) on the routes it applies to. */
  markRouted(raw: IncomingMessage): void {
    this.routed.add(raw);
  }

  cookieHeader(req: SessionRequest): string | undefined {
    return (req as Request).headers.cookie;
  }

  header(req: SessionRequest, name: string): string | undefined {
    const value = (req as Request).headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  }

  path(req: SessionRequest): string {
    return (req as Request).originalUrl ?? (req as Request).url; // Fastify 4 before 4.12 has no originalUrl
  }

  /** Fastify's `request.protocol` follows its own `trustProxy` setting, as Express's `req.secure` does. */
  isHttps(req: SessionRequest, trustProxy: boolean | undefined): boolean {
    const request = req as Request;
    return isHttpsRequest(request.raw, trustProxy, request.protocol === 'https');
  }

  responseOf(req: SessionRequest): object | undefined {
    return (req as Request & { [REPLY]?: FastifyReply })[REPLY];
  }

  /** Fastify's `reply.header` adds a second Set-Cookie rather than replacing the first. */
  appendCookie(res: object, setCookie: string): void {
    (res as FastifyReply).header('set-cookie', setCookie);
  }

  setHeader(res: object, name: string, value: string): void {
    (res as FastifyReply).header(name, value);
  }

  fail(res: object, exception: unknown, error: unknown): void {
    const reply = res as KeptReply;
    const sending = reply[SENDING];
    if (!sending && (reply.sent || reply.raw.headersSent)) {
      reply.raw.destroy();
      return;
    }
    const { status, body } = failureAnswer(exception, error);
    // The handler's body is replaced; headers such as X-Replica stay.
    for (const header of ['content-type', 'content-length', 'etag', 'set-cookie']) reply.removeHeader(header);
    reply.code(status);
    reply.header('content-type', 'application/json; charset=utf-8');
    if (!sending) {
      reply.send(body);
      return;
    }
    reply[SENDING] = undefined;
    sending(null, body);
  }

  statusCode(res: object): number {
    return (res as FastifyReply).statusCode;
  }

  describe(req: SessionRequest): string {
    const request = req as Request;
    return `${request.method} ${request.url}`;
  }
}

/** The way out: the save, then the cookie, then Fastify writes the reply; replies without a live session pass straight through. */
const wayOut: onSendHookHandler = function sessionWayOut(request, reply, payload, done) {
  const req = request as Request;
  const state = stateOf(req);
  if (answersStoreFailure(req, state, reply.statusCode)) noteUnavailable(req, state);
  if (state?.phase !== 'live') return done(null, payload);
  const kept = reply as KeptReply;
  if (state.ending) {
    if (!kept[SENDING]) return done(null, payload);
    // A second send while the first waits for the save: it goes no further (`done` is never called for
    // it), and a stream it carried is closed.
    state.lifecycle.dropSecondAnswer(req, state);
    (payload as { destroy?: () => void } | null)?.destroy?.();
    return;
  }
  kept[SENDING] = (error, replaced) => {
    // The handler's payload is not sent: a stream it returned is closed rather than left open.
    (payload as { destroy?: () => void } | null)?.destroy?.();
    if (error) done(error);
    else done(null, replaced);
  };
  let first: { statusCode: number; headers: ReturnType<FastifyReply['getHeaders']> } | undefined;
  state.lifecycle.beforeEnd(req, state, reply, () => {
    if (!kept[SENDING]) return; // answered by `fail` already
    kept[SENDING] = undefined;
    // A second send meanwhile set its own status and headers before it was dropped: these come back.
    if (first && state.answeredTwice) putBack(reply, first.statusCode, first.headers);
    state.lifecycle.beforeHeaders(req, state, reply);
    done(null, payload);
  });
  if (kept[SENDING]) first = { statusCode: reply.statusCode, headers: reply.getHeaders() };
};

function putBack(reply: FastifyReply, statusCode: number, headers: ReturnType<FastifyReply['getHeaders']>): void {
  for (const name of Object.keys(reply.getHeaders())) if (!(name in headers)) reply.removeHeader(name);
  for (const [name, value] of Object.entries(headers)) {
    reply.removeHeader(name); // `header('set-cookie', …)` adds to what is there
    if (value !== undefined) reply.header(name, value);
  }
  reply.code(statusCode);
}
