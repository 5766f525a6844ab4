import { Cookie, type SessionData } from 'express-session';
import { messages } from '../errors/session.messages';
import { SessionConfigError } from '../errors/session-config.error';
import { SessionTooLargeError } from '../errors/session-too-large.error';
import { resolveSecure } from '../cookie/secure-cookie';
import { digestRedisKey, sessionRedisKey } from '../redis/redis-keys';
import { digestOf } from '../redis/session-id';
import { SessionGateway } from '../redis/session-gateway';
import type { SessionEndReason, SessionObserver } from '../observe/session-observer';
import { USER_KEY } from '../session.constants';
import { CorruptSessionError, cookieSettingsJson, decodeSession, diffSession, type SessionDelta } from './session-codec';
import { attachState, stateOf, type SessionState, type UserIndexEntry, type UserIndexMove } from './session-state';
import type { RedisSessionStoreOptions } from './redis-session-store.options';
import type { SessionUser } from '../session-data';
import { checkedExpiry, checkSessionObject } from './session-validation';
import { FIELD } from '../redis/session-fields';
import { SessionForwarding, splitSuccessor } from '../renewal/session-forwarding';
import { openSuccessor } from '../renewal/successor-seal';

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
  saveMoving(save: SessionSave, move: UserIndexMove, state: SessionState): Promise<'written' | 'gone' | 'expired' | 'moved'>;
  /** A renewal moved the session to `digest`: its entry (`entry`, if any) follows. */
  follow(entry: (UserIndexEntry & { createdAt: number }) | undefined, digest: string): Promise<void>;
}

/** Periodic ID renewal (`renewal` option), when on. */
export interface RenewalSettings {
  /** Ms after its ID was issued after which a session gets a new one on its next request. */
  interval: number;
  /** Ms the old ID keeps leading to the new one. */
  grace: number;
}

/** Forward pointers followed at most, one after another (a session renewed twice within a grace window). */
const MAX_HOPS = 3;

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
  readonly logger: Pick<Console, 'warn' | 'error'>;
  /** Metrics and traces when on (see `observe`); read by the lifecycle, the service and the user index too. */
  observer: SessionObserver | undefined;
  /** Set by `SessionModule`: every save keeps the session's user index in step. */
  indexKeeper?: UserIndexKeeper;
  /** Set by `SessionModule` when `renewal` is on: new IDs get an issue time, and sessions a new ID once it is old. */
  renewal?: RenewalSettings;
  /** Reads and writes meeting a renewed session's old key go on under its successor. */
  readonly forwarding = new SessionForwarding(this);

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

  /** Attaches the metrics and traces observer to the session operations and to every Redis call. */
  observe(observer: SessionObserver | undefined): void {
    this.observer = observer;
    this.gateway.observer = observer;
  }

  redisKeyOf(sessionId: string): string {
    return sessionRedisKey(this.prefix, sessionId);
  }

  /**
   * The session with its bookkeeping attached, or null when absent, expired or corrupt (logged). A
   * renewed session's old ID reads its successor, whose ID its state names (`renewedId`).
   */
  async load(sessionId: string, hops = 0): Promise<StoredSession | null> {
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
    const { sealed, fields } = splitSuccessor(stored.fields);
    if (sealed !== undefined) return this.loadSuccessor(sessionId, sealed, fields, stored.expiresAt, hops);
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

  /** Follows a renewed session's old key to the session under its successor. */
  private async loadSuccessor(oldId: string, sealed: string, fields: string[], expiresAt: number, hops: number): Promise<StoredSession | null> {
    if (hops >= MAX_HOPS) return null;
    const successor = await this.forwarding.finish(oldId, sealed, fields, expiresAt);
    const data = successor === undefined ? null : await this.load(successor, hops + 1);
    if (data) stateOf(data)!.renewedId ??= successor;
    return data;
  }

  /**
   * True when the session's ID is older than the renewal interval (never with `renewal` off); with
   * `early`, that many ms before.
   */
  renewalDue(state: SessionState, now = Date.now(), early = 0): boolean {
    if (!this.renewal) return false;
    const issuedAt = Number(state.stored?.get(FIELD.issuedAt) ?? state.createdAt); // sessions stored before `renewal` was on
    return now - issuedAt >= this.renewal.interval - early;
  }

  /** The user index entry of a session as its Redis fields hold it, with its creation time; undefined when it has no user. */
  indexEntryOfFields(fields: string[], digest: string): (UserIndexEntry & { createdAt: number }) | undefined {
    try {
      const { data, state } = decodeSession(fields, 0, this.cookieTemplateJson);
      const entry = this.indexKeeper?.entryOf(data, digest);
      return entry && { ...entry, createdAt: state.createdAt };
    } catch {
      return undefined; // corrupt: the read that follows logs it
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
    // A session that may have been renewed meanwhile is written even unchanged: a renewal answers
    // 'moved', and the response then carries the new cookie instead of setting the old one back
    // (persistent cookies). "May": due by this replica's clock, or within a grace of it, for another's.
    const mayBeRenewed = this.renewal !== undefined && this.renewalDue(state, Date.now(), this.renewal.grace);
    if (!move && state.stored && delta.set.length === 0 && delta.del.length === 0 && state.refreshed && !mayBeRenewed) return null;
    return this.write(sessionId, redisKey, session, state, delta, move);
  }

  /** Slides the expiry without writing data; nothing to do when the read already did. */
  async touch(sessionId: string, session: SessionData): Promise<void> {
    const state = stateOf(session);
    if (state?.refreshed) return;
    const now = Date.now();
    const expiresAt = this.expiryOf(session, state?.createdAt ?? now, now);
    const { status } = await this.gateway.touchSession({ redisKey: this.redisKeyOf(sessionId), expiresAt, now, absoluteTimeout: this.absoluteTimeout });
    if (status === 'expired') this.observer?.sessionEnded?.('expired', 1);
  }

  /**
   * Deletes the session; `reason` is what the metrics count it as when it existed. A renewed
   * session's old ID deletes the successor too: a logout during the grace window ends both.
   */
  async destroy(sessionId: string, reason: SessionEndReason = 'logout', hops = 0): Promise<void> {
    const { deleted, sealedSuccessor } = await this.gateway.destroySession(this.redisKeyOf(sessionId));
    const successor = sealedSuccessor === undefined ? undefined : openSuccessor(sealedSuccessor, sessionId);
    if (successor !== undefined && hops < MAX_HOPS) return this.destroy(successor, reason, hops + 1);
    if (deleted > 0) this.observer?.sessionEnded?.(reason, deleted);
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
        if (splitSuccessor(stored.fields).sealed !== undefined) return; // a renewed session's old key: its successor is listed
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

  private async write(
    sessionId: string,
    redisKey: string,
    session: StoredSession,
    state: SessionState,
    delta: SessionDelta,
    move: UserIndexMove | undefined,
  ): Promise<void> {
    const now = Date.now();
    if (!state.stored && this.renewal) {
      // A new ID (a new session, a login, a regenerate): the renewal interval starts now.
      delta.set.push(FIELD.issuedAt, String(now));
      delta.next.set(FIELD.issuedAt, String(now));
    }
    const indexEntry = state.indexEntry;
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
    if (status === 'moved') return this.writeToSuccessor(sessionId, session, state, indexEntry);
    if (this.observer) this.observeWrite(redisKey, session, status, state.stored === null);
    state.stored = delta.next;
    state.redisKey = redisKey;
    state.pendingMeta = undefined;
  }

  /**
   * The session was renewed (here or on another replica) while this request ran: the same changes go
   * to the successor, as a patch over what it holds, and the request's state names the new ID so its
   * response carries the new cookie. The renewal moved the user index entry along.
   */
  private async writeToSuccessor(oldId: string, session: StoredSession, state: SessionState, indexEntry: UserIndexEntry | undefined): Promise<void> {
    const successor = await this.forwarding.successorOf(oldId);
    if (successor === undefined) return; // renewed, then destroyed: as 'gone'
    state.renewedId = successor;
    state.redisKey = this.redisKeyOf(successor); // a patch of what was read, not a rewrite of the whole session
    state.indexEntry = indexEntry && { ...indexEntry, digest: digestOf(successor) };
    await this.saveChanges(successor, session);
  }

  private observeWrite(redisKey: string, session: StoredSession, status: 'written' | 'expired', isNew: boolean): void {
    if (status === 'expired') return this.observer!.sessionEnded?.('expired', 1);
    if (isNew) this.observer!.sessionCreated?.();
    this.observer!.sessionSeen?.(redisKey.slice(this.prefix.length), userIdOf(session));
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
