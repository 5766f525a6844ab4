import { Session, type SessionData } from 'express-session';
import { inspect, type InspectOptions } from 'node:util';
import { SessionConflictError } from '../errors/session-conflict.error';
import { SessionDataError } from '../errors/session-data.error';
import { messages } from '../errors/session.messages';
import { toHttpException } from '../errors/to-http-exception';
import { stateOf as storeStateOf } from '../store/session-state';
import { trustSessionPrototype } from '../store/session-validation';
import type { SessionRequest } from './http-platform';
import { stateOf } from './request-state';

type Callback = (error?: unknown) => void;
type SessionBase = new (req: SessionRequest, data?: SessionData) => Session;

/**
 * Runs express-session's callback method, or, without a callback, answers a promise of it. The
 * library's errors come out as Nest's HTTP exceptions (Redis away: 503; a session too large: 413), as
 * from `SessionService`: passport hands a failed `regenerate` or `save` on to Nest, whose filter
 * would answer any other error with a 500. The store's own error stays the exception's `cause`.
 */
function callbackOrPromise(run: (callback: Callback) => void, callback: Callback | undefined): Promise<void> | undefined {
  if (callback) {
    run((error) => (error ? callback(toHttpException(error)) : callback()));
    return undefined;
  }
  return new Promise((resolve, reject) =>
    run((error) => {
      if (error) reject(error instanceof Error ? toHttpException(error) : new Error(`Session call failed: ${JSON.stringify(error)}`));
      else resolve();
    }),
  );
}

/**
 * `req.session` on either platform: express-session's Session (what passport 0.6+ calls: `regenerate`
 * and `save` with callbacks), plus the calls Fastify plugins make on `@fastify/session`'s session:
 * `get`, `set`, `sessionId`, and `regenerate`, `save`, `reload`, `destroy` answering a promise when
 * given no callback. The methods live on the prototype: the session's own properties stay its data.
 */
export class RequestSession extends (Session as unknown as SessionBase) {
  /**
   * What `console.log(req.session)` shows: the session's values, as express-session's Session shows
   * them, rather than the accessors that hold its object values (see store/tracked-values.ts).
   */
  [inspect.custom](_depth: number, options: InspectOptions, show: typeof inspect): string {
    return show(Object.assign(Object.create(SessionView.prototype) as object, this), options);
  }

  /** The session ID, as `@fastify/session` names it. */
  get sessionId(): string {
    return (this as unknown as { id: string }).id;
  }

  /** Refused as any key the session inherits is, with the library's message rather than a bare TypeError. */
  set sessionId(_value: unknown) {
    throw toHttpException(new SessionDataError(messages.forbiddenKey('sessionId'), 'sessionId'));
  }

  /** A session value, as `@fastify/session` reads it. */
  get(key: string): unknown {
    return (this as unknown as Record<string, unknown>)[key];
  }

  /** Sets a session value, as `@fastify/session` writes it. */
  set(key: string, value: unknown): void {
    (this as unknown as Record<string, unknown>)[key] = value;
  }

  /**
   * A new ID and an empty session (express-session's `regenerate(callback)`); `@fastify/session`'s form
   * takes the names of keys to keep and answers a promise without a callback. Once regenerated,
   * `req.session` is the new session object. Nothing is kept when the store answers that the old
   * session may not be carried over (a logout ended it while this request ran): keeping its user would
   * undo that logout. A session that carries keys over keeps its creation time, so its absolute
   * timeout, as `SessionService.regenerate` does: an app that renews IDs now and then keeping the user
   * would otherwise keep a stolen session alive for ever.
   */
  override regenerate(keepOrCallback?: string[] | Callback, maybeCallback?: Callback): this {
    const keep = Array.isArray(keepOrCallback) ? keepOrCallback : [];
    const callback = typeof keepOrCallback === 'function' ? keepOrCallback : maybeCallback;
    const req = (this as unknown as { req: SessionRequest }).req;
    const kept: Record<string, unknown> = {};
    for (const key of keep) if (key !== 'cookie' && Object.prototype.hasOwnProperty.call(this, key)) kept[key] = this.get(key);
    const createdAt = storeStateOf(this)?.createdAt;
    const regenerateBase = (done: Callback) =>
      Session.prototype.regenerate.call(this, (error?: unknown, carried?: boolean) => {
        if (!error && carried !== false && Object.keys(kept).length > 0) {
          Object.assign(req.session, kept);
          if (createdAt !== undefined) stateOf(req)!.lifecycle.core.context.stateFor(req.session).createdAt = createdAt;
        }
        done(error);
      });
    return (callbackOrPromise(regenerateBase, callback) ?? this) as this;
  }

  override save(callback?: Callback): this {
    return (callbackOrPromise((done) => Session.prototype.save.call(this, done), callback) ?? this) as this;
  }

  /**
   * express-session's reload, with what it answers a plain 'failed to load session' for said: a
   * session never stored (new in this request, or the one a logout or regenerate started) has nothing
   * in Redis to reload and stays as it is; one that was stored and is gone now (logged out, revoked or
   * expired meanwhile) is a 409 that says so.
   */
  override reload(callback?: Callback): this {
    return (callbackOrPromise((done) => {
      Session.prototype.reload.call(this, (error?: unknown) => {
        if (!(error instanceof Error && error.message === 'failed to load session')) return done(error);
        if (!storeStateOf(this)?.stored) return done(); // no state yet, or nothing stored: it was never in Redis
        done(new SessionConflictError(messages.sessionGone(), 'gone'));
      });
    }, callback) ?? this) as this;
  }

  override destroy(callback?: Callback): this {
    // A session a regenerate made and nothing stored yet: the ID it left ends with it, announced now,
    // and leaves its user's index.
    const releasing = stateOf((this as unknown as { req: object }).req)?.lifecycle.core.writer.abandon(this as unknown as SessionData);
    const destroyBase = (done: Callback) =>
      Session.prototype.destroy.call(this, (error?: unknown) => {
        if (error || !releasing) return done(error);
        releasing.then(() => done(), done);
      });
    return (callbackOrPromise(destroyBase, callback) ?? this) as this;
  }
}

trustSessionPrototype(RequestSession.prototype);

/** Only gives `inspect` the name express-session's sessions print under. */
const SessionView = class Session {};
