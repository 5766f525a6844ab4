import { ServiceUnavailableException } from '@nestjs/common';
import { signCookie } from '../cookie/cookie-signature';
import { messages } from '../errors/session.messages';
import { SessionDataError } from '../errors/session-data.error';
import { toHttpException } from '../errors/to-http-exception';
import type { SessionCore } from '../store/session-core';
import { FIELD } from '../redis/session-fields';
import { checkSessionObject } from '../store/session-validation';
import { stateOf as storeStateOf } from '../store/session-state';
import type { HttpPlatform, SessionRequest } from './http-platform';
import { noteUnavailable, ownSession, type RequestSessionState } from './request-state';
import type { SessionIdTransport } from './session-id-transport';

/*
 * The way out of a request's session:
 *
 *   writeHead ─▶ Set-Cookie if the session is new (and holds data) or its cookie persistent;
 *                the ID header instead, or as well, as the request's carrier says (`idFrom`)
 *   end       ─▶ save only the changed fields (or wait for the slide), then end; a failed save or
 *                slide answers 503, or cuts a streamed response, so a lost change is never reported
 *                as a success
 */

/** What the way out needs of the lifecycle's options. */
export interface WayOutOptions {
  cookieName: string;
  /** Newest first: the first signs the cookie. */
  secrets: string[];
  trustProxy?: boolean;
  /** `cookie.secure: 'auto'`: a stored session's cookie is Secure over HTTPS only, decided per response. */
  autoSecure?: boolean;
}

/** Where the way out reports what it could not do. */
export type LifecycleLogger = { warn(message: string): void; error(message: string): void };

/** The response side of a request's session: its cookie or ID header, and the save before `end`. */
export class SessionWayOut {
  constructor(
    private readonly options: WayOutOptions,
    private readonly transport: SessionIdTransport,
    private readonly core: SessionCore,
    private readonly platform: HttpPlatform,
    private readonly logger: LifecycleLogger,
  ) {}

  /**
   * With the headers: the cookie, when the browser needs to hear about it. It was prepared by
   * `beforeEnd` unless the handler sent its headers before ending (a stream); then a cookie that
   * cannot be written cuts this response, never the process.
   */
  beforeHeaders(req: SessionRequest, state: RequestSessionState, res: object): void {
    let setCookie = state.setCookie;
    let idHeader = state.idHeader;
    if (setCookie === undefined && !state.ending) {
      try {
        const session = ownSession(req);
        if (session) checkSessionObject(session, true);
        setCookie = session && this.cookieFor(req, state, session);
        idHeader = this.idHeaderFor(req, state, session);
      } catch (error) {
        this.failAfterHeaders(req, state, res, error);
        return;
      }
    }
    if (setCookie) this.platform.appendCookie(res, setCookie);
    if (idHeader !== undefined) this.platform.setHeader(res, this.transport.headerName, idHeader);
  }

  /**
   * At `end`: checks the session, prepares its cookie, saves the changes, then lets the response
   * finish. Anything the session holds that cannot be saved or sent answers this request with the
   * library's error (nothing written), never the process. Answers what `end` should return.
   */
  beforeEnd(req: SessionRequest, state: RequestSessionState, res: object, finish: () => unknown): unknown {
    state.ending = true;
    const session = ownSession(req);
    if (!session) state.idHeader = this.idHeaderFor(req, state, undefined); // destroyed: a header client drops its token
    if (!session || this.answersStoreFailure(res)) return finish();
    let saving: Promise<void> | null;
    try {
      checkSessionObject(session, true);
      state.idHeader = this.idHeaderFor(req, state, session);
      if (req.sessionID !== state.cookieId && !hasData(session)) {
        // A regenerate's new, empty session: the ID it left ended, and its place in its user's index with it.
        const releasing = this.core.writer.abandon(session);
        if (!releasing) return finish();
        saving = releasing;
      } else {
        session.touch(); // a persistent cookie's expiry slides with every request, as express-session does
        state.setCookie = this.cookieFor(req, state, session);
        saving = this.core.writer.saveChanges(req.sessionID, session);
      }
    } catch (error) {
      this.failBeforeHeaders(req, state, res, error);
      return res;
    }
    if (!saving) return this.adoptRenewedId(req, state, session, res) ? finish() : res;
    state.saving = true;
    saving.then(
      () => {
        state.saving = false;
        if (this.adoptRenewedId(req, state, session, res)) finishSafely(this.logger, finish);
      },
      (error: unknown) => {
        state.saving = false;
        // A regenerate's new session that could not be stored (a login past `users.maxSessions`, Redis
        // away): the ID it left ended all the same, and the place it held in its user's index goes.
        const releasing = this.core.writer.abandon(session);
        if (!releasing) return this.failBeforeHeaders(req, state, res, error);
        void releasing.catch(() => undefined).then(() => this.failBeforeHeaders(req, state, res, error));
      },
    );
    return res;
  }

  /**
   * A second answer to a request whose first is waiting for its session's save (a handler that sent
   * its answer and then threw, or answered twice): dropped, so the client gets the first, as it does
   * when the session did not change and nothing waits. Logged, as Fastify logs a reply sent twice.
   */
  dropSecondAnswer(req: SessionRequest, state: RequestSessionState): void {
    if (state.answeredTwice) return;
    state.answeredTwice = true;
    this.logger.warn(messages.secondAnswerDropped(this.platform.describe(req)));
  }

  /**
   * The save (or an `update`) found the session renewed while this request ran, here or on another
   * replica, and wrote to its successor: the response carries the new ID (cookie or header), as after a `regenerate`,
   * instead of setting the old one back. Only after the save: under the new ID before it, the save
   * would rewrite the whole session over the successor. Answers false when the response failed instead.
   */
  private adoptRenewedId(req: SessionRequest, state: RequestSessionState, session: SessionRequest['session'], res: object): boolean {
    const renewedId = storeStateOf(session)?.renewedId;
    if (renewedId === undefined || renewedId === req.sessionID) return true;
    req.sessionID = renewedId;
    try {
      state.setCookie = this.cookieFor(req, state, session);
      state.idHeader = this.idHeaderFor(req, state, session); // a header client hears of it as a cookie client does
      return true;
    } catch (error) {
      this.failBeforeHeaders(req, state, res, error);
      return false;
    }
  }

  /**
   * A 503 while Redis is failing (a call failed within the last `redisDeadline`): most likely the
   * handler's own session call just timed out. Saving would make the client wait a second
   * `redisDeadline` for an answer that is already an error, and a failed request is not meant to
   * change the session; so the way out does not call Redis again.
   */
  private answersStoreFailure(res: object): boolean {
    return this.platform.statusCode(res) === 503 && this.core.gateway.recentlyUnavailable();
  }

  /** The Set-Cookie value for this response, or undefined when the browser has nothing to learn. */
  private cookieFor(req: SessionRequest, state: RequestSessionState, session: SessionRequest['session']): string | undefined {
    if (state.carrier === 'header') return undefined; // a header client gets no cookie, whatever its browser may hold
    const isNew = req.sessionID !== state.cookieId;
    if (isNew ? !hasData(session) : session.cookie.expires == null) return undefined;
    // A session keeping no cookie settings of its own has the module's, which under 'auto' depend on
    // the request: decided here, only for a cookie that goes out (its save then stores none either).
    if (this.options.autoSecure && storeStateOf(session)?.stored?.has(FIELD.cookie) === false) {
      session.cookie.secure = this.platform.isHttps(req, this.options.trustProxy);
    }
    if (session.cookie.secure && !this.platform.isHttps(req, this.options.trustProxy)) {
      // The browser would drop it anyway; said aloud, since the session is lost with it.
      this.logger.error(messages.secureCookieOverHttp(this.platform.describe(req)));
      return undefined;
    }
    const { absoluteTimeout } = this.core.context.settings;
    // A session new in this request gets its creation time from the save that follows: now, at the latest.
    const createdAt = storeStateOf(session)?.createdAt ?? Date.now();
    const cookie = endingBy(session.cookie as unknown as SerializableCookie, absoluteTimeout > 0 ? createdAt + absoluteTimeout : undefined);
    try {
      return cookie.serialize(this.options.cookieName, signCookie(req.sessionID, this.options.secrets[0]));
    } catch (error) {
      throw new SessionDataError(messages.unwritableCookie((error as Error)?.message ?? String(error)), 'cookie');
    }
  }

  /**
   * The ID header's value for this response, or undefined when it sends none: the signed ID of a new
   * session that holds data (a first session, a login, any new ID), or '' when the ID the request came
   * with is dead and no new one is kept (logout, destroy, a regenerate that left nothing to store).
   * Nothing for a cookie request, nor for an unchanged ID: a header has no expiry to slide.
   */
  private idHeaderFor(req: SessionRequest, state: RequestSessionState, session: SessionRequest['session'] | undefined): string | undefined {
    if (state.carrier === 'cookie' || (session && req.sessionID === state.cookieId)) return undefined;
    if (session && hasData(session)) return this.transport.signed(req.sessionID);
    return state.cookieId === undefined ? undefined : '';
  }

  /** Replaces the handler's answer with the error's (its body and headers are not out yet). */
  private failBeforeHeaders(req: SessionRequest, state: RequestSessionState, res: object, error: unknown): void {
    this.logFailure(req, error);
    state.phase = 'failed'; // this answer is final: the error's end must not save again
    state.failure = error;
    state.setCookie = undefined;
    state.idHeader = undefined;
    const answer = toHttpException(error);
    // Counted here: on Fastify the reply's hook that counts a 503 ran before this save failed.
    if (answer instanceof ServiceUnavailableException) noteUnavailable(req, state);
    try {
      this.platform.fail(res, answer, error);
    } catch (failError) {
      this.logger.error(`Answering the failure of ${this.platform.describe(req)} failed too: ${(failError as Error)?.message}`);
    }
  }

  /** Headers are going out as this runs: the answer cannot change any more, so the response is cut. */
  private failAfterHeaders(req: SessionRequest, state: RequestSessionState, res: object, error: unknown): void {
    state.setCookie = undefined;
    state.idHeader = undefined;
    state.ending = true; // the end must not save what could not be announced
    queueMicrotask(() => this.failBeforeHeaders(req, state, res, error)); // headers are sent by then: `fail` cuts
  }

  private logFailure(req: SessionRequest, error: unknown): void {
    const cause = (error as Error)?.cause as Error | undefined;
    const detail = cause?.message ? ` (${cause.message})` : '';
    this.logger.error(`Saving the session at the end of ${this.platform.describe(req)} failed: ${(error as Error)?.message}${detail}`);
  }
}

/** A new session is stored (and gets a cookie) only once it holds something of its own. */
function hasData(session: object): boolean {
  for (const key in session) if (key !== 'cookie' && Object.prototype.hasOwnProperty.call(session, key)) return true;
  return false;
}

/** Ends the response; a throw from there is logged, never an unhandled rejection that stops the process. */
function finishSafely(logger: LifecycleLogger, finish: () => unknown): void {
  try {
    finish();
  } catch (error) {
    logger.error(`Ending a response after saving its session failed: ${(error as Error)?.message}`);
  }
}

/** express-session's Cookie as the way out uses it: it serializes itself (its typings leave the method out). */
interface SerializableCookie {
  expires: Date | null | undefined;
  serialize(name: string, value: string): string;
}

/**
 * The cookie a response sends: a persistent cookie's expiry, which `touch` slid a whole idle timeout
 * ahead, no later than `deadline` (the absolute timeout), where Redis ends the session whatever the
 * slide. A view over the session's cookie, not a change to it: express-session's `expires` setter
 * would also change `originalMaxAge`, which the session stores.
 */
function endingBy(cookie: SerializableCookie, deadline: number | undefined): SerializableCookie {
  const { expires } = cookie;
  // Not past the deadline, or no date at all (serializing it says so, naming `expires`).
  if (!expires || deadline === undefined || !(expires.getTime() > deadline)) return cookie;
  // `serialize` reads the expiry from `_expires` (express-session's own field), here the view's.
  return Object.create(cookie, { _expires: { value: new Date(deadline) } }) as SerializableCookie;
}
