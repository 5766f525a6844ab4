import { Cookie, type SessionData } from 'express-session';
import { messages } from '../errors/session.messages';
import { SessionConfigError } from '../errors/session-config.error';
import { SessionTooLargeError } from '../errors/session-too-large.error';
import { resolveSecure } from '../cookie/secure-cookie';
import { digestRedisKey, sessionRedisKey } from '../redis/redis-keys';
import { FIELD } from '../redis/session-fields';
import { SessionGateway, type StoredFields } from '../redis/session-gateway';
import type { NearCache } from '../cache/near-cache';
import { combineObservers, type SessionEndReason, type SessionObserver } from '../observe/session-observer';
import { USER_KEY } from '../session.constants';
import {
  CorruptSessionError,
  UnopenableSessionError,
  cookieSettingsJson,
  decodeSession,
  diffSession,
  openField,
  type Sealing,
  type SessionDelta,
} from './session-codec';
import { FieldSealer } from './field-sealer';
import { resolveEncryptionOption } from '../options/resolve-encryption-option';
import { attachState, stateOf, type SessionState, type UserIndexEntry, type UserIndexMove } from './session-state';
import type { RedisSessionStoreOptions } from './redis-session-store.options';
import type { SessionUser } from '../session-data';
import { checkedExpiry, checkSessionObject } from './session-validation';
import { dueSlide, pastDeadline, resolveTouchAfter, slideGainsEnough, type IdleSlidePolicy } from './idle-slide';
import { SessionForwarding } from '../renewal/session-forwarding';
import { renewalRecordOf, type RenewalSettings } from '../renewal/renewal-record';

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
  /**
   * What a write moving the session's expiry from `state.expiresAt` to `expiresAt` must also send to
   * keep its user's index alive as long as the session; undefined when nothing.
   */
  pushExpiry(state: SessionState, expiresAt: number): Promise<unknown> | undefined;
  /** A renewal moved the session to `digest`: its entry (`entry`, if any) follows. */
  follow(entry: (UserIndexEntry & { createdAt: number; expiresAt: number }) | undefined, digest: string): Promise<void>;
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
  /** When a read slides the idle timeout (`touchAfter`). */
  readonly slides: IdleSlidePolicy;
  /** JSON of the cookie a fresh session gets; a session whose cookie matches does not store its own. */
  readonly cookieTemplateJson: string | undefined;
  /** A read sends the slide it finds due itself, rather than leaving it to the end-of-request touch or save. */
  private readonly slideOnRead: boolean;
  readonly logger: Pick<Console, 'warn' | 'error'>;
  /** Seals and opens field values under the `encryption` option; undefined when it is off. */
  readonly sealer: FieldSealer | undefined;
  /** Sessions whose values did not open, already logged: a replayed cookie must not flood the log. */
  private readonly reportedUnopenable = new Set<string>();
  /** Metrics, traces and lifecycle events (see `observe`); read by the lifecycle, the service and the user index too. */
  observer: SessionObserver | undefined;
  /** Set by `SessionModule`: every save keeps the session's user index in step. */
  indexKeeper?: UserIndexKeeper;
  /** Set by `SessionModule` when the `nearCache` option is on (`useNearCache`). */
  nearCache?: NearCache;
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
    this.maxSessionBytes = options.maxSessionBytes ?? 64 * 1024; // 64 KiB
    this.logger = options.logger ?? console;
    const encryption = resolveEncryptionOption(options.encryption);
    this.sealer = encryption && new FieldSealer(encryption);
    this.gateway = new SessionGateway({
      client: options.client,
      commandTimeout: options.commandTimeout ?? 1_000, // 1 s
      durability: options.durability,
      logger: this.logger,
    });
    this.cookieTemplateJson = options.cookie ? cookieSettingsJson(templateCookie(options.cookie)) : undefined;
    const templateMaxAge = (options.cookie as { maxAge?: number } | undefined)?.maxAge;
    const window = templateMaxAge ?? this.ttl;
    const touchAfter = resolveTouchAfter(options, window, templateMaxAge === undefined ? 'ttl' : 'cookie.maxAge'); // default: a tenth of the window, at most 1 min
    this.slides = { window, touchAfter, absoluteTimeout: this.absoluteTimeout };
    this.slideOnRead = options.refreshOnRead ?? false;
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

  /** What the codec needs to seal and open this session's values; undefined without encryption. */
  sealingFor(redisKey: string): Sealing | undefined {
    return this.sealer && { sealer: this.sealer, redisKey };
  }

  /** The string Redis is to hold for a field's JSON: sealed under `encryption`, the JSON itself otherwise. */
  sealValue(redisKey: string, field: string, json: string | undefined): string | undefined {
    return json === undefined || !this.sealer ? json : this.sealer.seal(redisKey, field, json);
  }

  /** The JSON of a field as Redis holds it, opened under `encryption`; throws `UnopenableSessionError` (logged once) when it does not open. */
  openValue(redisKey: string, field: string, held: string | undefined): string | undefined {
    if (held === undefined || !this.sealer) return held;
    try {
      return openField({ sealer: this.sealer, redisKey }, field, held);
    } catch (error) {
      if (error instanceof UnopenableSessionError) this.ignoreUnopenable(redisKey, error.message);
      throw error;
    }
  }

  /**
   * The session with its bookkeeping attached, or null when absent, expired or corrupt (logged). One
   * HGETALL, which writes nothing; a slide of the idle timeout, when due, follows (see `adopt`). A
   * renewed session's old ID reads its successor, one HGETALL more (see `SessionForwarding.follow`).
   */
  load(sessionId: string, hops = 0): Promise<StoredSession | null> {
    const redisKey = this.redisKeyOf(sessionId);
    const cache = this.nearCache;
    if (cache?.serving()) {
      let held: StoredSession | null | undefined;
      try {
        held = this.fromNearCache(cache, redisKey);
      } catch (error) {
        return Promise.reject(error);
      }
      return held !== undefined ? Promise.resolve(held) : this.loadNear(cache, redisKey, sessionId, hops);
    }
    // A chain rather than an async function: every request reads, and each promise less counts.
    return this.gateway.readSession(redisKey).then((fields) => {
      if (fields === 'wrongType') return this.ignoreCorrupt(redisKey, 'not a hash');
      if (fields && renewalRecordOf(fields) === 'renewed') return this.forwarding.follow(sessionId, fields, hops);
      return fields && this.adopt(redisKey, fields, Date.now());
    });
  }

  /**
   * `load` answered at once, when the near cache holds the session: undefined when the answer needs
   * Redis (no cache, a miss, an entry past its expiry). A warm request then goes on in the same tick,
   * without the promise and the microtask an async `load` costs.
   */
  loadNow(sessionId: string): StoredSession | null | undefined {
    const cache = this.nearCache;
    return cache?.serving() ? this.fromNearCache(cache, this.redisKeyOf(sessionId)) : undefined;
  }

  /** Serves and fills the near cache (see `NearCache`); tells it of every write through the gateway. */
  useNearCache(cache: NearCache): void {
    this.nearCache = cache;
    this.gateway.writeListener = cache;
  }

  /**
   * A near-cache hit: the hash as Redis last reported it, adopted as a fresh read would be, so a slide
   * that fell due is still sent (and its write drops the entry). Undefined on a miss, and for an
   * entry past its expiry: Redis's own invalidation of the expired key may not have arrived yet.
   */
  private fromNearCache(cache: NearCache, redisKey: string): StoredSession | null | undefined {
    const now = Date.now();
    const cached = cache.read(redisKey, now);
    if (cached && !(Number(cached[FIELD.expiresAt]) <= now)) {
      this.observer?.nearCacheRead?.(true);
      return this.adopt(redisKey, cached, now);
    }
    if (cached) cache.forget(redisKey);
    return undefined;
  }

  /**
   * `load` through the near cache after a miss. It marks its key before the read (the placeholder),
   * so an invalidation or a write of this replica arriving meanwhile cancels the fill; only a session
   * read whole is cached, never a failure.
   */
  private async loadNear(cache: NearCache, redisKey: string, sessionId: string, hops: number): Promise<StoredSession | null> {
    const now = Date.now();
    this.observer?.nearCacheRead?.(false);
    const ticket = cache.begin(redisKey);
    try {
      const fields = await this.gateway.readSession(redisKey);
      if (fields === 'wrongType') return this.ignoreCorrupt(redisKey, 'not a hash');
      // A renewed session's old key is followed, never cached: its successor is cached under its own key.
      if (fields && renewalRecordOf(fields) === 'renewed') return await this.forwarding.follow(sessionId, fields, hops);
      const session = fields && this.adopt(redisKey, fields, Date.now());
      if (session) cache.fill(redisKey, ticket, fields, now);
      return session;
    } finally {
      cache.settle(redisKey, ticket);
    }
  }

  /**
   * A session's hash, as read at `now`, made into the session a request uses: null when past its
   * absolute deadline (deleted in the background) or corrupt (logged). When its idle timeout is due
   * to slide (`touchAfter`), with `refreshOnRead` the slide is sent now without waiting for it
   * (`state.sliding`, which the end of the request waits for); without, the end-of-request touch or
   * save sends it.
   */
  adopt(redisKey: string, fields: StoredFields, now: number): StoredSession | null {
    const digest = redisKey.slice(this.prefix.length);
    if (renewalRecordOf(fields) !== 'session') return null; // a tombstone (destroyed), or a renewed session's old key, which `load` follows
    if (pastDeadline(this.slides, Number(fields[FIELD.createdAt]), now)) return this.dropPastDeadline(redisKey);
    let decoded: ReturnType<typeof decodeSession>;
    try {
      decoded = decodeSession(fields, this.cookieTemplateJson, now, this.sealingFor(redisKey));
    } catch (error) {
      if (error instanceof UnopenableSessionError) return this.ignoreUnopenable(redisKey, error.message);
      if (error instanceof CorruptSessionError) return this.ignoreCorrupt(redisKey, error.message);
      throw error;
    }
    const { data, state } = decoded;
    state.redisKey = redisKey;
    state.indexEntry = this.indexKeeper?.entryOf(data, digest);
    const slideTo = dueSlide(this.slides, { now, createdAt: state.createdAt, expiresAt: state.expiresAt, cookieMaxAge: data.cookie.originalMaxAge });
    if (slideTo === undefined) {
      state.refreshed = true;
    } else if (this.slideOnRead) {
      state.sliding = this.slide(redisKey, state, slideTo, now);
      state.refreshed = true;
      if (data.cookie.expires) data.cookie.expires = new Date(slideTo);
    }
    attachState(data, state);
    this.observer?.sessionSeen?.(digest, userIdOf(data));
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
    if (state.stored && state.redisKey !== undefined && state.redisKey !== redisKey) {
      state.stored = null;
      state.held = undefined; // sealed for the other key: they would not open here
    }
    let move: UserIndexMove | undefined;
    try {
      checkSessionObject(session, false);
      // First: a session joining a user's index gets its device metadata in this very save.
      move = this.indexKeeper?.moveFor(session, state, redisKey.slice(this.prefix.length));
      delta = diffSession(session, state, this.cookieTemplateJson, this.sealingFor(redisKey));
      if (delta.bytes > this.maxSessionBytes) throw new SessionTooLargeError(delta.bytes, this.maxSessionBytes);
    } catch (error) {
      return Promise.reject(error);
    }
    // Unchanged: nothing to write, but the slide the read sent must have succeeded (else a 503). A
    // session that may have been renewed meanwhile is written even unchanged: a renewal answers
    // 'moved', and the response then carries the new cookie instead of setting the old one back
    // (persistent cookies). "May": due by this replica's clock, or within a grace of it, for another's.
    const mayBeRenewed = this.renewal !== undefined && this.renewalDue(state, Date.now(), this.renewal.grace);
    if (!move && state.stored && delta.set.length === 0 && delta.del.length === 0 && state.refreshed && !mayBeRenewed) return state.sliding ?? null;
    return this.write(sessionId, redisKey, session, state, delta, move);
  }

  /**
   * Slides the expiry to what the session's cookie asks for, without writing data, when that is due:
   * when it gains `touchAfter` over the expiry Redis was last seen to hold. Only waits when the read
   * sent the slide itself. A session object never read slides whatever Redis holds.
   */
  async touch(sessionId: string, session: SessionData): Promise<void> {
    const state = stateOf(session);
    if (state?.sliding) return state.sliding;
    const now = Date.now();
    const expiresAt = this.expiryOf(session, state?.createdAt ?? now, now);
    if (state?.stored && !slideGainsEnough(this.slides, state.expiresAt, expiresAt, session.cookie?.originalMaxAge)) return;
    await this.slide(this.redisKeyOf(sessionId), state, expiresAt, now);
  }

  /**
   * Deletes the session; `reason` is what the metrics count it as when it existed, `ended` what its
   * lifecycle event says (`destroyed` unless told; none for `regenerated`, see `SessionEndReason`). A
   * renewed session's old ID deletes the successor too: a logout during the grace window ends both.
   */
  async destroy(
    sessionId: string,
    reason: SessionEndReason = 'logout',
    ended: { type: 'logout' | 'destroyed'; userId?: string } = { type: 'destroyed' },
  ): Promise<void> {
    const redisKey = this.redisKeyOf(sessionId);
    const deleted = await this.forwarding.destroy(sessionId);
    if (deleted === 0) return;
    this.observer?.sessionEnded?.(reason, deleted);
    if (reason !== 'regenerated') this.observer?.sessionEvent?.({ type: ended.type, digest: redisKey.slice(this.prefix.length), userId: ended.userId });
  }

  /**
   * Deletes a session by its Redis key (revoke, eviction); answers whether it existed. While
   * `renewal` is on, a tombstone stays for the grace, so a renewal under way cannot plant it again.
   */
  async deleteByKey(redisKey: string): Promise<number> {
    if (!this.renewal) return this.gateway.deleteKey(redisKey);
    return (await this.gateway.destroySession(redisKey, this.renewal.grace)).deleted;
  }

  /** Every live session by digest; reading them writes nothing: no slide, no last-seen time, no deletion. */
  async all(): Promise<Record<string, StoredSession>> {
    const redisKeys = await this.sessionRedisKeys();
    const sessions: Record<string, StoredSession> = {};
    await Promise.all(
      redisKeys.map(async (redisKey) => {
        const fields = await this.gateway.readSession(redisKey);
        const now = Date.now();
        if (!fields || fields === 'wrongType' || pastDeadline(this.slides, Number(fields[FIELD.createdAt]), now)) return;
        if (renewalRecordOf(fields) !== 'session') return; // a renewed session's old key (its successor is listed) or an ended one
        try {
          sessions[redisKey.slice(this.prefix.length)] = decodeSession(fields, this.cookieTemplateJson, now, this.sealingFor(redisKey)).data;
        } catch (error) {
          if (error instanceof UnopenableSessionError) return this.ignoreUnopenable(redisKey, error.message);
          if (!(error instanceof CorruptSessionError)) throw error;
          this.ignoreCorrupt(redisKey, error.message);
        }
      }),
    );
    return sessions;
  }

  /**
   * Digests of every live session. With `renewal` on, a renewed session's old key and a destroyed
   * one's tombstone are hashes under the prefix too, for their grace: each key is asked for those
   * marks (one HMGET, pipelined) and the records left out, as `all()` leaves them out.
   */
  async digests(): Promise<string[]> {
    let redisKeys = await this.sessionRedisKeys();
    if (this.renewal) {
      const records = await Promise.all(redisKeys.map((redisKey) => this.gateway.readRenewalMarks(redisKey)));
      redisKeys = redisKeys.filter((_, i) => records[i] === 'session');
    }
    return redisKeys.map((redisKey) => redisKey.slice(this.prefix.length));
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
    if (delta.next.has(FIELD.lastSeenAt)) delta = stampLastSeen(delta, now);
    const save: SessionSave = {
      redisKey,
      mode: state.stored ? 'patch' : 'replace',
      expiresAt: this.expiryOf(session, state.createdAt, now),
      now,
      set: delta.set,
      del: delta.del,
    };
    // A move into an index sets that index's expiry itself; otherwise the index may need a push, sent alongside.
    const push = move ? undefined : this.indexKeeper?.pushExpiry(state, save.expiresAt);
    const saving = move ? this.indexKeeper!.saveMoving(save, move, state) : this.gateway.saveSession(save).then((reply) => reply.status);
    const [status] = await Promise.all([saving, push]);
    if (status === 'gone') return; // destroyed meanwhile: the write is dropped, never resurrects it
    if (status === 'moved') return this.writeToSuccessor(sessionId, session, state, indexEntry);
    if (this.observer) this.observeWrite(redisKey, session, status, state);
    state.stored = delta.next;
    state.held = delta.held;
    state.previousDigest = undefined;
    state.loggingIn = undefined;
    state.redisKey = redisKey;
    state.pendingMeta = undefined;
    state.expiresAt = save.expiresAt;
    state.refreshed = true; // the save slid the expiry: nothing left for a touch
  }

  /**
   * Slides a session to `expiresAt` (see `SessionGateway.touchSession`), stamping last-seen when it
   * is logged in, and pushes its user index's expiry when that needs it, both sent at once. Also
   * caught here, so a slide nobody waits for never ends the process; whoever waits still sees a failure.
   */
  private slide(redisKey: string, state: SessionState | undefined, expiresAt: number, now: number): Promise<void> {
    const lastSeenAt = state?.stored?.has(FIELD.lastSeenAt) ? now : undefined;
    const push = state && this.indexKeeper?.pushExpiry(state, expiresAt);
    const touching = this.gateway
      .touchSession({
        redisKey,
        expiresAt,
        now,
        absoluteTimeout: this.absoluteTimeout,
        // A session read here moves only if nothing moved it since; one never read, whatever it holds.
        expectedExpiry: state?.stored ? (state.expiresAt ?? null) : undefined,
        lastSeenAt,
      })
      .then(({ status }) => {
        if (status === 'expired') this.observeExpired(redisKey, state?.indexEntry?.userId);
        if (status !== 'touched' || !state) return;
        state.expiresAt = expiresAt;
        if (lastSeenAt !== undefined) state.lastSeenAt = lastSeenAt;
      });
    const sliding = push ? Promise.all([touching, push]).then(() => undefined) : touching;
    sliding.catch(() => undefined);
    return sliding;
  }

  /** A session read past its absolute deadline: absent now, deleted without holding up the request. */
  private dropPastDeadline(redisKey: string): null {
    this.gateway.deleteKey(redisKey).then(
      (deleted) => {
        if (deleted > 0) this.observeExpired(redisKey, undefined);
      },
      () => undefined, // Redis failing: the key's own TTL, never past the deadline, removes it anyway
    );
    return null;
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
    state.indexEntry = indexEntry && { ...indexEntry, digest: this.redisKeyOf(successor).slice(this.prefix.length) };
    await this.saveChanges(successor, session);
  }

  private observeWrite(redisKey: string, session: StoredSession, status: 'written' | 'expired', state: SessionState): void {
    if (status === 'expired') return this.observeExpired(redisKey, state.indexEntry?.userId ?? userIdOf(session));
    const digest = redisKey.slice(this.prefix.length);
    if (state.stored === null) {
      this.observer!.sessionCreated?.();
      const type = state.loggingIn ? 'login' : 'created';
      this.observer!.sessionEvent?.({ type, digest, userId: state.indexEntry?.userId ?? userIdOf(session), previousDigest: state.previousDigest });
    }
    this.observer!.sessionSeen?.(digest, userIdOf(session));
  }

  private observeExpired(redisKey: string, userId: string | undefined): void {
    this.observer?.sessionEnded?.('expired', 1);
    this.observer?.sessionEvent?.({ type: 'expired', digest: redisKey.slice(this.prefix.length), userId });
  }

  private sessionRedisKeys(): Promise<string[]> {
    return this.gateway.scanKeys(`${escapeGlob(this.prefix)}*`, 'hash');
  }

  private ignoreCorrupt(redisKey: string, reason: string): null {
    this.logger.warn(messages.corruptValue(redisKey.slice(this.prefix.length), reason));
    return null;
  }

  /** A session whose values do not open is no session; logged the first time only (per process, bounded memory). */
  ignoreUnopenable(redisKey: string, reason: string): null {
    if (this.reportedUnopenable.has(redisKey)) return null;
    if (this.reportedUnopenable.size >= MAX_REPORTED_UNOPENABLE) this.reportedUnopenable.clear();
    this.reportedUnopenable.add(redisKey);
    this.logger.warn(messages.unopenableValue(redisKey.slice(this.prefix.length), reason));
    return null;
  }
}

/**
 * The delta with a logged-in session's last-seen time set to `now`, unless it sets it already (a
 * login): a save slides the expiry, so it stamps last-seen as a slide does. A copy: the delta of an
 * unchanged session shares its field map with the session's state.
 */
function stampLastSeen(delta: SessionDelta, now: number): SessionDelta {
  for (let i = 0; i < delta.set.length; i += 2) if (delta.set[i] === FIELD.lastSeenAt) return delta;
  const next = new Map(delta.next).set(FIELD.lastSeenAt, String(now));
  return { ...delta, set: [...delta.set, FIELD.lastSeenAt, String(now)], next };
}

/** Sessions remembered as already logged for values that do not open; the set starts afresh past this. */
const MAX_REPORTED_UNOPENABLE = 10_000;

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
