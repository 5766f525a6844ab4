import { BadRequestException, Inject, Injectable, ServiceUnavailableException } from '@nestjs/common';
import type { Request } from 'express';
import { randomBytes } from 'node:crypto';
import { CSRF_KEY, SESSION_OPTIONS, USER_KEY } from '../session.constants';
import { messages } from '../errors/session.messages';
import { SessionConflictError } from '../errors/session-conflict.error';
import { SessionConfigError } from '../errors/session-config.error';
import { toHttpException } from '../errors/to-http-exception';
import type { ResolvedSessionOptions } from '../options/resolved-options';
import { digestOf, newSessionId } from '../redis/session-id';
import { carriedByHeader, clearSessionCookie, ensureSession, existingSession } from '../request/request-session';
import { isSocketRequest, requestOf } from '../request/session-target';
import { noteStoreFailure, stateOf as stateOfRequest } from '../request/request-state';
import { regenerate } from '../request/session-lifecycle';
import { SessionCore } from '../store/session-core';
import { stateOf } from '../store/session-state';
import { resealSessions, type ResealReport } from '../store/reseal-sessions';
import { deviceMeta } from '../users/device-meta';
import { defaultSessionUserId, indexUserIdOf, userIdKey } from '../users/user-id';
import { describe } from '../store/session-validation';
import { UserSessionIndex, type UserSessionInfo } from '../users/user-session-index';
import type { AppSession, SessionKey, SessionUser } from '../session-data';
import type { SessionData } from 'express-session';
import { SessionKeyUpdates } from './atomic-update';
import { awaitSessionMethod } from './session-method';
import { DurableWrite } from './durable-write.decorator';

/**
 * What holds a session, for `SessionService`: the request, a Nest `ExecutionContext` (HTTP, GraphQL,
 * WebSocket), or a socket wired with `withSessions` (its session as the current event read it). A
 * socket cannot carry a new ID to its client: `login`, `regenerate` and new sessions stay with HTTP.
 */
export type SessionTarget = Request | object;

/**
 * Session operations as promises, for controllers and guards: the express-session calls with their
 * missing pieces (regenerate keeps the data, login and logout do the whole sequence), a user's
 * sessions (list, revoke, log out everywhere), atomic updates of one key, and the CSRF token.
 * Store errors reach Nest as HTTP exceptions (503 when Redis is unavailable).
 * Each method takes a `SessionTarget`: a request, an execution context or a socket.
 */
@Injectable()
export class SessionService {
  private readonly updates: SessionKeyUpdates;

  /** @internal Nest's dependency injection builds the service; inject it. */
  constructor(
    private readonly core: SessionCore,
    @Inject(SESSION_OPTIONS) private readonly options: ResolvedSessionOptions,
    private readonly index: UserSessionIndex,
  ) {
    this.updates = new SessionKeyUpdates(core, options.updateRetries);
  }

  /**
   * Gives the session a new ID and keeps its data (express-session's own regenerate drops it). A
   * logged-in session stays in its user's index under the new ID: the save moves the entry.
   */
  @DurableWrite()
  regenerate(target: SessionTarget): Promise<void> {
    const req = requestOf(target) as Request;
    return this.asHttpErrors(req, () => {
      refuseNewIdOnSocket(req);
      return this.rotate(req, newSessionId(), undefined);
    });
  }

  /**
   * The session `target` holds, or undefined when it has none; never creates one. For code outside a
   * handler's parameters: a gateway's `handleConnection` (the handshake's session), an interceptor.
   */
  sessionOf(target: SessionTarget): AppSession | undefined {
    try {
      return existingSession(requestOf(target));
    } catch (error) {
      throw toHttpException(error);
    }
  }

  save(target: SessionTarget): Promise<void> {
    const req = requestOf(target) as Request;
    return this.asHttpErrors(req, () => awaitSessionMethod(ensureSession(req), 'save'));
  }

  destroy(target: SessionTarget): Promise<void> {
    const req = requestOf(target) as Request;
    return this.asHttpErrors(req, async () => {
      const session = existingSession(req);
      if (session) await awaitSessionMethod(session, 'destroy');
    });
  }

  reload(target: SessionTarget): Promise<void> {
    const req = requestOf(target) as Request;
    return this.asHttpErrors(req, () => awaitSessionMethod(ensureSession(req), 'reload'));
  }

  /**
   * Makes sure the session's idle timeout slid, when a slide is due (`touchAfter`): waits for the one
   * the read sent, or sends it now rather than at the end of the request.
   */
  touch(target: SessionTarget): Promise<void> {
    const req = requestOf(target) as Request;
    return this.asHttpErrors(req, async () => {
      const session = ensureSession(req);
      session.touch();
      await this.core.slides.touch(req.sessionID, session);
    });
  }

  /**
   * Logs the user in: a new session ID (the old one dies, against fixation), the data kept (a cart
   * survives), the user set, the CSRF token rotated, all saved before this resolves; the save joins
   * the session to the user's index with device metadata, in the same atomic step where Redis allows
   * (see `users.id`). Past `users.maxSessions` the oldest session is revoked, or the login refused
   * with 409 (`users.onLimit: 'reject'`), the session the request came with then left as it was.
   */
  @DurableWrite()
  login(target: SessionTarget, user: SessionUser): Promise<void> {
    // Refused before anything changes: the visitor's session (a cart) stays as it was.
    const userId = user !== null && typeof user === 'object' ? userIdKey(user.id) : undefined;
    if (userId === undefined) {
      return Promise.reject(
        new TypeError(messages.userWithoutId(user !== null && typeof user === 'object' ? `an "id" of ${describe(user.id)}` : describe(user))),
      );
    }
    const req = requestOf(target) as Request;
    return this.asHttpErrors(req, async () => {
      refuseNewIdOnSocket(req);
      const added = { [USER_KEY]: user, [CSRF_KEY]: newToken() };
      // The index the save joins is the one `users.id` answers for the logged-in session (an app's own
      // function may key users by something else than user.id); an answer it refuses fails here.
      const indexedAs = indexUserIdOf(this.options.users.id ?? defaultSessionUserId, { ...dataOf(existingSession(req)), ...added });
      // Refusing before the ID changes keeps the visitor's session; the save below decides atomically.
      if (indexedAs !== undefined && !(await this.index.hasRoom(indexedAs, this.digestOfRequest(req)))) {
        throw new SessionConflictError(messages.sessionLimit(this.options.users.maxSessions), 'limit');
      }
      const now = Date.now();
      await this.rotate(req, newSessionId(), now, added);
      const session = req.session;
      const state = this.core.context.stateFor(session);
      state.pendingMeta = deviceMeta(req, now);
      state.loggingIn = true; // its first save is announced as a login
      try {
        await awaitSessionMethod(session, 'save');
      } catch (error) {
        // Not logged in: the end of the request must not try to save this session again. The ID it
        // left ended all the same, and the place it held in its user's index goes (see `abandon`).
        Reflect.deleteProperty(req, 'session');
        await this.core.writer.abandon(session)?.catch(() => undefined); // Redis away: the entry expires with its mark
        throw error;
      }
      this.core.context.observer?.login?.();
    });
  }

  /** Deletes the session in Redis, takes it out of its user's index, and clears the cookie (or empties the ID header). */
  @DurableWrite()
  logout(target: SessionTarget): Promise<void> {
    const req = requestOf(target) as Request;
    return this.asHttpErrors(req, async () => {
      const session = existingSession(req);
      if (session) {
        const entry = this.core.context.stateFor(session).indexEntry;
        // What express-session's `session.destroy()` does, with the event it ends in named.
        Reflect.deleteProperty(req, 'session');
        const ended = { type: 'logout', userId: entry?.userId } as const;
        // A session a regenerate made, never stored: the ID it left is logged out, and its index entry removed.
        const released = this.core.writer.abandon(session, 'logout');
        await Promise.all([
          this.core.admin.destroy(req.sessionID, 'logout', ended),
          released ?? (entry ? this.index.remove(entry.userId, entry.digest) : undefined),
        ]);
      }
      if (carriedByHeader(req)) return; // the way out sends the empty ID header; there is no cookie to clear
      clearSessionCookie(req);
    });
  }

  /** The user's live sessions, newest first; `current` marks the one of `req` when given. */
  list(userId: string | number, target?: SessionTarget): Promise<UserSessionInfo[]> {
    const req = target === undefined ? undefined : (requestOf(target) as Request);
    return this.asHttpErrors(req, () => this.index.list(userIdArgument('list', userId), req ? this.digestOfRequest(req) : undefined));
  }

  /** Deletes one of the user's sessions by its handle; false when the user has no such session. */
  @DurableWrite()
  revoke(userId: string | number, handle: string): Promise<boolean> {
    return this.asHttpErrors(undefined, () => {
      // A row of list() rather than its id, or nothing at all, is a bug of the caller, not a session the user lacks.
      if (typeof handle !== 'string' || handle === '') throw new TypeError(messages.badHandle(describe(handle)));
      return this.index.revoke(userIdArgument('revoke', userId), handle);
    });
  }

  /**
   * Deletes every session of the user, on every device; with `except`, keeps that request's session.
   * Costs in proportion to the user's sessions, never to all sessions. Returns how many were deleted.
   */
  @DurableWrite()
  logoutEverywhere(userId: string | number, options: { except?: SessionTarget } = {}): Promise<number> {
    return this.asHttpErrors(undefined, async () => {
      const user = userIdArgument('logoutEverywhere', userId);
      return this.index.revokeAll(user, await this.keptDigests(options.except));
    });
  }

  /**
   * Applies `change` to one session key as Redis holds it now and writes the result only if no other
   * request changed that key meanwhile. Updates of one key queued in this process are applied in order,
   * each to the previous one's result, and written together; a write lost to another process is applied
   * again to the fresh value (409 after `updateRetries` such losses). A change that throws fails only its
   * own caller. `req.session[key]` shows the result (a copy of its own: the value answered is the
   * caller's, and changing it afterwards changes neither the session nor Redis); the end-of-request
   * save does not write it again.
   */
  update<K extends SessionKey>(
    target: SessionTarget,
    key: K,
    change: (current: SessionData[K] | undefined) => SessionData[K] | Promise<SessionData[K]>,
  ): Promise<SessionData[K]> {
    const req = requestOf(target) as Request;
    return this.asHttpErrors(req, () => {
      const session = ensureSession(req) as unknown as Record<string, unknown>;
      const sessionId = req.sessionID;
      return this.updates.update(sessionId, session, key, change);
    });
  }

  /**
   * Rewrites every session value not sealed under the newest `encryption` key (one sealed under an
   * older key, or plaintext read under `acceptPlaintext`), in place, while the app serves: each value
   * by a compare-and-set on what was read, so no concurrent change is overwritten. Run it after a new
   * key went first on every replica; once it reports nothing left, the old key can go. Costs one read
   * per live session and one write per stale value (README, "Encryption at rest").
   */
  reseal(): Promise<ResealReport> {
    if (!this.core.context.sealing.sealer) return Promise.reject(new SessionConfigError('encryption', 'must be set to reseal sessions'));
    return this.asHttpErrors(undefined, () => resealSessions(this.core));
  }

  /**
   * The session's CSRF token. A new one (often with a new session) is saved before this resolves, so
   * a Redis failure answers 503 here rather than after the client was handed a token that was lost.
   * It is created only if absent, atomically: two requests asking at once (two tabs rendering a form)
   * get the same token, where each saving its own would have left the first tab's form refused.
   */
  csrfToken(target: SessionTarget): Promise<string> {
    const req = requestOf(target) as Request;
    return this.asHttpErrors(req, async () => {
      const session = ensureSession(req) as unknown as Record<string, unknown>;
      const existing = session[CSRF_KEY];
      if (typeof existing === 'string' && existing !== '') return existing;
      return this.updates.update<string>(req.sessionID, session, CSRF_KEY, (current) => (typeof current === 'string' && current !== '' ? current : newToken()));
    });
  }

  /**
   * Moves the session to a new ID with its data and `added` (a login's user and token); `createdAt`
   * restarts the absolute timeout (login). What the new session's save would refuse (a value JSON
   * cannot hold, too many bytes) is refused first, while the old ID still holds the session. A session
   * ended meanwhile (a logout racing this request) is not carried: the new one starts with `added` only.
   */
  private async rotate(req: Request, sessionId: string, createdAt: number | undefined, added: Record<string, unknown> = {}): Promise<void> {
    const old = ensureSession(req);
    const data = { ...dataOf(old), ...added };
    this.core.writer.checkSavable({ ...data, cookie: old.cookie });
    const keptCreatedAt = createdAt ?? stateOf(old)?.createdAt ?? Date.now();
    const carried = await regenerate(req, { id: sessionId });
    Object.assign(req.session, carried ? data : added);
    // A session not carried starts afresh, its absolute timeout with it, unless a login restarts it anyway.
    if (carried || createdAt !== undefined) this.core.context.stateFor(req.session).createdAt = keptCreatedAt;
  }

  /**
   * The digests of the session `except` names, to be kept: its own, and with `renewal` on its
   * successor's when another request renewed it while this one ran (the index lists it under the
   * new digest). None when it is not given or has no session. Anything that is no request the module
   * handled (`req.session`, a handle of `list`) is refused: read as "no session", it would end the
   * very session the caller meant to keep.
   */
  private async keptDigests(except: SessionTarget | undefined): Promise<string[]> {
    if (except === undefined) return [];
    const req = except !== null && typeof except === 'object' ? (requestOf(except) as Request) : undefined;
    if (!req || (stateOfRequest(req) === undefined && !isSocketRequest(req))) throw new TypeError(messages.exceptNotARequest(describe(except)));
    const digest = this.digestOfRequest(req);
    if (digest === undefined) return [];
    const successor = this.options.renewal ? await this.core.forwarding.successorOf(req.sessionID) : undefined;
    return successor === undefined ? [digest] : [digest, digestOf(successor)];
  }

  private digestOfRequest(req: Request): string | undefined {
    const session = existingSession(req);
    return session ? digestOf(req.sessionID) : undefined;
  }

  /**
   * Runs a call with its errors as Nest's HTTP exceptions. A 503 (Redis unavailable) marks the
   * request it served, so that the request is counted as answered 503 if it answers so (`metrics`).
   */
  private asHttpErrors<T>(req: object | undefined, operation: () => Promise<T>): Promise<T> {
    const failed = (error: unknown): Promise<never> => {
      const answer = toHttpException(error);
      if (req && answer instanceof ServiceUnavailableException) noteStoreFailure(req);
      return Promise.reject(answer);
    };
    let pending: Promise<T>;
    try {
      pending = operation();
    } catch (error) {
      return failed(error);
    }
    return pending.then(undefined, failed);
  }
}

/** A session's data as a plain object, without its cookie; empty for none. */
function dataOf(session: object | undefined): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  if (session) for (const key of Object.keys(session)) if (key !== 'cookie') data[key] = (session as Record<string, unknown>)[key];
  return data;
}

function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * The index key of a user id an app passes in. `null`, `undefined` or '' is a bug of the caller (an
 * anonymous request's `session.user?.id`), never the user named "undefined": refused, naming the method.
 */
function userIdArgument(method: string, userId: unknown): string {
  const key = userIdKey(userId);
  if (key === undefined) throw new TypeError(messages.badUserIdArgument(method, describe(userId)));
  return key;
}

/**
 * A socket cannot take a new session ID (a login, a regenerate): no response carries its cookie, and
 * the browser would go on sending the old one. Said as a 400, or the 401 of a socket without a
 * session, rather than the "not mounted for this route" of a request the module never saw.
 */
function refuseNewIdOnSocket(req: object): void {
  if (!isSocketRequest(req)) return;
  ensureSession(req); // the 401 of a socket without a session
  throw new BadRequestException(messages.socketCannotChangeId());
}
