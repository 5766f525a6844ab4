import { messages } from '../errors/session.messages';
import type { SessionCore } from '../store/session-core';
import type { SessionRequest } from './http-platform';
import type { IdCarrier, SessionIdTransport } from './session-id-transport';

/** Where a request keeps its `RequestSessionState`: a symbol, so no app property can clash with it. */
export const STATE = Symbol('nest-redis-session:request');

/**
 * What a request's state reaches of the lifecycle that handles it: the ID transport, the store, a new
 * session on demand, and the two steps of the way out. `SessionLifecycle` is the one implementation;
 * the interface lives here so the way out and the readers of a request's state need not import it.
 */
export interface RequestLifecycle {
  readonly transport: SessionIdTransport;
  readonly core: SessionCore;
  /** Puts a new, empty session with this ID on the request (see `SessionLifecycle.generate`). */
  generate(req: SessionRequest, id: string): void;
  /** Logout: sets the cookie that clears the session's in the browser. */
  clearCookie(req: SessionRequest): void;
  /** The way out, with the headers: the cookie or ID header the response must carry. */
  beforeHeaders(req: SessionRequest, state: RequestSessionState, res: object): void;
  /** The way out, at `end`: saves the session, then finishes the response; answers what `end` returns. */
  beforeEnd(req: SessionRequest, state: RequestSessionState, res: object, finish: () => unknown): unknown;
  /** A second answer while the first waits for the save: noted and logged, for the platform to drop. */
  dropSecondAnswer(req: SessionRequest, state: RequestSessionState): void;
}

/** What the lifecycle knows about one request. */
export interface RequestSessionState {
  /** pending: no session until code reads `req.session`; live: on the request, saved on the way out; failed: Redis could not load it. */
  phase: 'pending' | 'live' | 'failed';
  /** The ID the request's cookie (or ID header) carried; a session under another ID is new. */
  cookieId: string | undefined;
  /** How the request carried its ID, so how its response announces a new one. */
  carrier: IdCarrier;
  /** Why loading failed, thrown (as a 503) at whoever reads the session. */
  failure?: unknown;
  /** Set once the save at the end has started, so the final `end` goes straight through. */
  ending: boolean;
  /** True while that save is in flight: the answer waiting for it is the one sent, any later one dropped. */
  saving?: boolean;
  /** A later answer was dropped (and logged): the first's status and headers are put back before it goes. */
  answeredTwice?: boolean;
  /** The Set-Cookie value, prepared (and checked) before the save, so sending the headers cannot fail. */
  setCookie?: string;
  /** The ID header's value, prepared with the cookie: the signed new ID, or '' once the session is gone. */
  idHeader?: string;
  lifecycle: RequestLifecycle;
}

/**
 * Marks a request the module left alone because it is outside `cookie.path`, holding that path, so
 * code that asks for a session there learns why it has none.
 */
export const OUTSIDE_COOKIE_PATH = Symbol('nest-redis-session:outside-cookie-path');

/** A request as the lifecycle sees it: its session fields and its state. */
export type StatefulRequest = SessionRequest & { [STATE]?: RequestSessionState; [OUTSIDE_COOKIE_PATH]?: string };

/** The lifecycle state of a request, or undefined where no session handling is mounted. */
export function stateOf(req: object): RequestSessionState | undefined {
  return (req as StatefulRequest)[STATE];
}

/** The error for code that needs a session on a request without session handling, naming the option that left it out. */
export function noSessionError(req: object): Error {
  const cookiePath = (req as StatefulRequest)[OUTSIDE_COOKIE_PATH];
  return new Error(cookiePath === undefined ? messages.noSession() : messages.noSessionOutsideCookiePath(cookiePath));
}

/** The session the request holds itself: undefined once destroyed, and never created by asking. */
export function ownSession(req: object): SessionRequest['session'] | undefined {
  return Object.prototype.hasOwnProperty.call(req, 'session') ? (req as SessionRequest).session : undefined;
}

/**
 * Where a request notes that Redis failed one of its session calls (`'failed'`), then that it was
 * counted as answered 503 (`'counted'`): on the request itself, since requests that came without a
 * session share one pending state.
 */
const UNAVAILABLE = Symbol('nest-redis-session:unavailable');
type UnavailableMark = { [UNAVAILABLE]?: 'failed' | 'counted' };

/** Counts a request answered 503 because its session could not be loaded or saved (metrics only), once. */
export function noteUnavailable(req: object, state: RequestSessionState): void {
  const marked = req as UnavailableMark;
  if (marked[UNAVAILABLE] === 'counted') return;
  marked[UNAVAILABLE] = 'counted';
  state.lifecycle.core.context.observer?.requestUnavailable?.();
}

/** Whether a response about to go out with `statusCode` is a 503 the session store caused, to be counted. */
export function answersStoreFailure(req: object, state: RequestSessionState | undefined, statusCode: number): state is RequestSessionState {
  return statusCode === 503 && state !== undefined && (state.phase === 'failed' || (req as UnavailableMark)[UNAVAILABLE] === 'failed');
}

/** Marks a request whose `SessionService` call met Redis unavailable, so that a 503 it answers counts. */
export function noteStoreFailure(req: object): void {
  const marked = req as UnavailableMark;
  if (stateOf(req) && marked[UNAVAILABLE] === undefined) marked[UNAVAILABLE] = 'failed';
}
