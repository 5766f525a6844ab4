import { Cookie, type SessionData } from 'express-session';
import { messages } from '../errors/session.messages';
import { SessionConfigError } from '../errors/session-config.error';
import { SessionTooLargeError } from '../errors/session-too-large.error';
import { resolveSecure } from '../cookie/secure-cookie';
import { digestRedisKey, sessionRedisKey } from '../redis/redis-keys';
import { SessionGateway } from '../redis/session-gateway';
import { CorruptSessionError, cookieSettingsJson, decodeSession, diffSession, type SessionDelta } from './session-codec';
import { attachState, stateOf, type SessionState } from './session-state';
import type { RedisSessionStoreOptions } from './redis-session-store.options';
import { checkedExpiry, checkSessionObject } from './session-validation';

export type StoredSession = SessionData & Record<string, unknown>;

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
      attachState(data, state);
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
  saveChanges(sessionId: string, session: SessionData): Promise<void> | null {
    let delta: SessionDelta;
    const state = this.stateFor(session);
    const redisKey = this.redisKeyOf(sessionId);
    // The same object saved under a new ID: nothing of it is at that key yet, so 'patch' would drop it.
    if (state.stored && state.redisKey !== undefined && state.redisKey !== redisKey) state.stored = null;
    try {
      checkSessionObject(session, false);
      delta = diffSession(session as StoredSession, state, this.cookieTemplateJson);
      if (delta.bytes > this.maxSessionBytes) throw new SessionTooLargeError(delta.bytes, this.maxSessionBytes);
    } catch (error) {
      return Promise.reject(error);
    }
    if (state.stored && delta.set.length === 0 && delta.del.length === 0 && state.refreshed) return null;
    return this.write(redisKey, session as StoredSession, state, delta);
  }

  /** Slides the expiry without writing data; nothing to do when the read already did. */
  async touch(sessionId: string, session: SessionData): Promise<void> {
    const state = stateOf(session);
    if (state?.refreshed) return;
    const now = Date.now();
    const expiresAt = this.expiryOf(session, state?.createdAt ?? now, now);
    await this.gateway.touchSession({ redisKey: this.redisKeyOf(sessionId), expiresAt, now, absoluteTimeout: this.absoluteTimeout });
  }

  async destroy(sessionId: string): Promise<void> {
    await this.gateway.deleteKey(this.redisKeyOf(sessionId));
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

  private async write(redisKey: string, session: StoredSession, state: SessionState, delta: SessionDelta): Promise<void> {
    const now = Date.now();
    const { status } = await this.gateway.saveSession({
      redisKey,
      mode: state.stored ? 'patch' : 'replace',
      expiresAt: this.expiryOf(session, state.createdAt, now),
      now,
      set: delta.set,
      del: delta.del,
    });
    if (status === 'gone') return; // destroyed meanwhile: the write is dropped, never resurrects it
    state.stored = delta.next;
    state.redisKey = redisKey;
    state.pendingMeta = undefined;
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

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
