import { Cookie, type SessionData } from 'express-session';
import { messages } from '../errors/session.messages';
import { SessionConfigError } from '../errors/session-config.error';
import { SessionTooLargeError } from '../errors/session-too-large.error';
import { resolveSecure } from '../cookie/secure-cookie';
import { digestRedisKey, sessionRedisKey } from '../redis/redis-keys';
import { SessionGateway } from '../redis/session-gateway';
import { combineObservers, type SessionEndReason, type SessionObserver } from '../observe/session-observer';
import { USER_KEY } from '../session.constants';
import { CorruptSessionError, cookieSettingsJson, decodeSession, diffSession, type SessionDelta } from './session-codec';
import { attachState, stateOf, type SessionState, type UserIndexEntry, type UserIndexMove } from './session-state';
import type { RedisSessionStoreOptions } from './redis-session-store.options';
import type { SessionUser } from '../session-data';
import { checkedExpiry, checkSessionObject } from './session-validation';

export type StoredSession = SessionData & Record<string, unknown>;

/** What `SessionGateway.saveSession` takes: one save of one session. */
export type SessionSave = Parameters<SessionGateway['saveSession']>[0];

/**
 * Keeps each user's index of sessions in step with the sessions' users, in the save itself
 * (`SessionModule` sets one; a bare `RedisSessionStore` has no user index).
 */
export interface UserIndexKeeper {
  /** The index entry of a session just read (its user, if any, under `digest`). Never throws. */
  entryOf(data: StoredSession, digest: string): UserIndexEntry | undefined;
  /** Before a save: the index move it needs, or undefined when the session stays where it is. */
  moveFor(session: StoredSession, state: SessionState, digest: string): UserIndexMove | undefined;
  /** Saves the session and moves its index entry; answers the save's status. */
  saveMoving(save: SessionSave, move: UserIndexMove, state: SessionState): Promise<'written' | 'gone' | 'expired'>;
}

/**
 * Sessions as Redis hashes: decodes what the gateway reads, diffs what the request changed and
 * writes only that, and keeps the bookkeeping (`SessionState`) on each session object in between.
 * Shared by the store, the request lifecycle and the service; not part of the public API.
 */
export class SessionPersistence {
  readonly gateway: SessionGateway;
  readonly prefix: string;
  /** Ms a session without a cookie expiry lives after its last write. */
  readonly ttl: number;
  /** Ms after creation after which a session is dead; 0 for none. */
  readonly absoluteTimeout: number;
  readonly maxSessionBytes: number;
  private readonly lastSeenInterval: number;
  /** JSON of the cookie a fresh session gets; a session whose cookie matches does not store its own. */
  private readonly cookieTemplateJson: string | undefined;
  /** Ms a read slides the expiry by; 0 leaves it to the end-of-request touch. */
  private readonly slideOnRead: number;
  private readonly logger: Pick<Console, 'warn' | 'error'>;
  /** Metrics, traces and lifecycle events (see `observe`); read by the lifecycle, the service and the user index too. */
  observer: SessionObserver | undefined;
  /** Set by `SessionModule`: every save keeps the session's user index in step. */
  indexKeeper?: UserIndexKeeper;

  constructor(options: RedisSessionStoreOptions) {
    if (!options?.client || typeof (options.client as { defineCommand?: unknown }).defineCommand !== 'function') {
      throw new SessionConfigError('client', 'must be an ioredis Redis or Cluster instance');
    }
    this.prefix = options.prefix ?? 'sess:';
    this.ttl = options.ttl ?? 24 * 60 * 60_000; // 1 day, as connect-redis
    this.absoluteTimeout = options.absoluteTimeout ?? 0; // none
    this.lastSeenInterval = options.lastSeenInterval ?? 60_000; // 1 min
    this.maxSessionBytes = options.maxSessionBytes ?? 64 * 1024; // 64 KiB
    this.logger = options.logger ?? console;
    this.gateway = new SessionGateway({
      client: options.client,
      commandTimeout: options.commandTimeout ?? 1_000, // 1 s
      durability: options.durability,
      logger: this.logger,
    });
    this.cookieTemplateJson = options.cookie ? cookieSettingsJson(templateCookie(options.cookie)) : undefined;
    const templateMaxAge = (options.cookie as { maxAge?: number } | undefined)?.maxAge;
    this.slideOnRead = options.refreshOnRead ? (templateMaxAge ?? this.ttl) : 0;
  }

  /** Adds an observer (metrics and traces, lifecycle events) to the session operations and to every Redis call. */
  observe(observer: SessionObserver | undefined): void {
    if (!observer) return;
    this.observer = combineObservers(this.observer ? [this.observer, observer] : [observer]);
    this.gateway.observer = this.observer;
  }

  redisKeyOf(sessionId: string): string {
    return sessionRedisKey(this.prefix, sessionId);
  }

  /** The session with its bookkeeping attached, or null when absent, expired or corrupt (logged). */
  async load(sessionId: string): Promise<StoredSession | null> {
    const redisKey = this.redisKeyOf(sessionId);
    const stored = await this.gateway.loadSession({
      redisKey,
      now: Date.now(),
      slideBy: this.slideOnRead,
      absoluteTimeout: this.absoluteTimeout,
      lastSeenInterval: this.lastSeenInterval,
    });
    if (stored === 'wrongType') return this.ignoreCorrupt(redisKey, 'not a hash');
    if (!stored) return null;
    try {
      const { data, state } = decodeSession(stored.fields, stored.expiresAt, this.cookieTemplateJson);
      state.refreshed = this.slideOnRead > 0;
      state.redisKey = redisKey;
      state.indexEntry = this.indexKeeper?.entryOf(data, redisKey.slice(this.prefix.length));
      attachState(data, state);
      this.observer?.sessionSeen?.(redisKey.slice(this.prefix.length), userIdOf(data));
      return data;
    } catch (error) {
      if (error instanceof CorruptSessionError) return this.ignoreCorrupt(redisKey, error.message);
      throw error;
    }
  }

  /**
   * Writes what changed in the session since it was read, or answers null, synchronously, when
   * nothing did and the read already slid the expiry: the common case of a request that only reads.
   */
  saveChanges(sessionId: string, data: SessionData): Promise<void> | null {
    // Apps widen SessionData with their own keys; whether it already has an index signature depends on
    // which declarations the compilation sees (the repository's tests add one, the package's build not).
    const session = data as StoredSession;
    let delta: SessionDelta;
    const state = this.stateFor(session);
    const redisKey = this.redisKeyOf(sessionId);
    // The same object saved under a new ID: nothing of it is at that key yet, so 'patch' would drop it.
    if (state.stored && state.redisKey !== undefined && state.redisKey !== redisKey) state.stored = null;
    let move: UserIndexMove | undefined;
    try {
      checkSessionObject(session, false);
      // First: a session joining a user's index gets its device metadata in this very save.
      move = this.indexKeeper?.moveFor(session, state, redisKey.slice(this.prefix.length));
      delta = diffSession(session, state, this.cookieTemplateJson);
      if (delta.bytes > this.maxSessionBytes) throw new SessionTooLargeError(delta.bytes, this.maxSessionBytes);
    } catch (error) {
      return Promise.reject(error);
    }
    if (!move && state.stored && delta.set.length === 0 && delta.del.length === 0 && state.refreshed) return null;
    return this.write(redisKey, session, state, delta, move);
  }

  /** Slides the expiry without writing data; nothing to do when the read already did. */
  async touch(sessionId: string, session: SessionData): Promise<void> {
    const state = stateOf(session);
    if (state?.refreshed) return;
    const now = Date.now();
    const expiresAt = this.expiryOf(session, state?.createdAt ?? now, now);
    const redisKey = this.redisKeyOf(sessionId);
    const { status } = await this.gateway.touchSession({ redisKey, expiresAt, now, absoluteTimeout: this.absoluteTimeout });
    if (status === 'expired') this.observeExpired(redisKey, session);
  }

  /**
   * Deletes the session; `reason` is what the metrics count it as when it existed, `ended` what its
   * lifecycle event says (`destroyed` unless told; none for `regenerated`, see `SessionEndReason`).
   */
  async destroy(
    sessionId: string,
    reason: SessionEndReason = 'logout',
    ended: { type: 'logout' | 'destroyed'; userId?: string } = { type: 'destroyed' },
  ): Promise<void> {
    const redisKey = this.redisKeyOf(sessionId);
    const deleted = await this.gateway.deleteKey(redisKey);
    if (deleted === 0) return;
    this.observer?.sessionEnded?.(reason, deleted);
    if (reason !== 'regenerated') this.observer?.sessionEvent?.({ type: ended.type, digest: redisKey.slice(this.prefix.length), userId: ended.userId });
  }

  /** Every live session by digest; reading them slides nothing and touches no last-seen time. */
  async all(): Promise<Record<string, StoredSession>> {
    const redisKeys = await this.sessionRedisKeys();
    const sessions: Record<string, StoredSession> = {};
    await Promise.all(
      redisKeys.map(async (redisKey) => {
        const args = { redisKey, now: Date.now(), slideBy: 0, absoluteTimeout: this.absoluteTimeout, lastSeenInterval: Number.MAX_SAFE_INTEGER };
        const stored = await this.gateway.loadSession(args);
        if (!stored || stored === 'wrongType') return;
        try {
          sessions[redisKey.slice(this.prefix.length)] = decodeSession(stored.fields, stored.expiresAt, this.cookieTemplateJson).data;
        } catch (error) {
          if (!(error instanceof CorruptSessionError)) throw error;
          this.ignoreCorrupt(redisKey, error.message);
        }
      }),
    );
    return sessions;
  }

  /** Digests of every live session. */
  async digests(): Promise<string[]> {
    return (await this.sessionRedisKeys()).map((redisKey) => redisKey.slice(this.prefix.length));
  }

  /** Deletes every key under the prefix: sessions and user indexes, on every master of a cluster. */
  async clear(): Promise<void> {
    const redisKeys = await this.gateway.scanKeys(`${escapeGlob(this.prefix)}*`);
    await Promise.all(redisKeys.map((redisKey) => this.gateway.deleteKey(redisKey)));
  }

  /**
   * Expiry a write gives the session: the cookie's, else the idle window, never past the absolute
   * deadline. Throws a `SessionDataError` for an expiry that is not a date a cookie can carry, before
   * anything is written: Redis would refuse it half-way through the write.
   */
  expiryOf(session: SessionData, createdAt: number, now: number): number {
    const expires = session.cookie?.expires;
    let at = expires ? checkedExpiry(new Date(expires).getTime(), expires) : now + this.ttl;
    if (this.absoluteTimeout > 0) at = Math.min(at, createdAt + this.absoluteTimeout);
    return at;
  }

  /** The bookkeeping of a session object, created for one that was never read from Redis. */
  stateFor(session: object): SessionState {
    return stateOf(session) ?? attachState(session, { stored: null, createdAt: Date.now(), refreshed: false });
  }

  /** Redis key of a session a user index names by digest. */
  redisKeyOfDigest(digest: string): string {
    return digestRedisKey(this.prefix, digest);
  }

  private async write(redisKey: string, session: StoredSession, state: SessionState, delta: SessionDelta, move: UserIndexMove | undefined): Promise<void> {
    const now = Date.now();
    const save: SessionSave = {
      redisKey,
      mode: state.stored ? 'patch' : 'replace',
      expiresAt: this.expiryOf(session, state.createdAt, now),
      now,
      set: delta.set,
      del: delta.del,
    };
    const status = move ? await this.indexKeeper!.saveMoving(save, move, state) : (await this.gateway.saveSession(save)).status;
    if (status === 'gone') return; // destroyed meanwhile: the write is dropped, never resurrects it
    if (this.observer) this.observeWrite(redisKey, session, status, state);
    state.stored = delta.next;
    state.previousDigest = undefined;
    state.loggingIn = undefined;
    state.redisKey = redisKey;
    state.pendingMeta = undefined;
  }

  private observeWrite(redisKey: string, session: StoredSession, status: 'written' | 'expired', state: SessionState): void {
    if (status === 'expired') return this.observeExpired(redisKey, session);
    const digest = redisKey.slice(this.prefix.length);
    if (state.stored === null) {
      this.observer!.sessionCreated?.();
      const type = state.loggingIn ? 'login' : 'created';
      this.observer!.sessionEvent?.({ type, digest, userId: state.indexEntry?.userId ?? userIdOf(session), previousDigest: state.previousDigest });
    }
    this.observer!.sessionSeen?.(digest, userIdOf(session));
  }

  private observeExpired(redisKey: string, session: object): void {
    this.observer?.sessionEnded?.('expired', 1);
    const userId = stateOf(session)?.indexEntry?.userId ?? userIdOf(session as StoredSession);
    this.observer?.sessionEvent?.({ type: 'expired', digest: redisKey.slice(this.prefix.length), userId });
  }

  private sessionRedisKeys(): Promise<string[]> {
    return this.gateway.scanKeys(`${escapeGlob(this.prefix)}*`, 'hash');
  }

  private ignoreCorrupt(redisKey: string, reason: string): null {
    this.logger.warn(messages.corruptValue(redisKey.slice(this.prefix.length), reason));
    return null;
  }
}

/** The cookie a fresh session gets, built as express-session builds it, before any request is known. */
function templateCookie(options: object): object {
  const { secure } = options as { secure?: boolean | 'auto' };
  const CookieClass = Cookie as unknown as new (options: object) => object;
  return new CookieClass({ ...options, secure: resolveSecure(secure, undefined) });
}

/** The logged-in user's id, for the active-users estimate; undefined for an anonymous session. */
function userIdOf(session: StoredSession): string | undefined {
  const id = (session[USER_KEY] as Partial<SessionUser> | undefined)?.id;
  return id === undefined || id === null ? undefined : String(id);
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
