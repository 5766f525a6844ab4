import { FIELD, renewalRecordOf } from '../redis/session-fields';
import type { StoredFields } from '../redis/session-gateway';
import { dueSlide, pastDeadline } from './idle-slide';
import { CorruptSessionError, UnopenableSessionError, decodeSession } from './session-codec';
import type { SessionContext } from './session-context';
import { MAX_HOPS, type SessionForwarding } from './session-forwarding';
import { userIdOf, type SessionSlides } from './session-slides';
import { stateOf } from './session-state';
import type { SessionCache, StoredSession, UserIndexKeeper } from './store-ports';

/**
 * The read path: one HGETALL (or a near-cache hit), decoded into the session a request uses, with
 * its bookkeeping attached and the slide of its idle timeout sent when one is due.
 */
export class SessionReader {
  constructor(
    private readonly sessions: SessionContext,
    private readonly slides: SessionSlides,
    private readonly forwarding: SessionForwarding,
    private readonly indexKeeper: UserIndexKeeper | undefined,
    private readonly cache: SessionCache | undefined,
  ) {}

  /**
   * The session with its bookkeeping attached, or null when absent, expired or corrupt (logged). One
   * HGETALL, which writes nothing; a slide of the idle timeout, when due, follows (see `adopt`). A
   * renewed session's old ID reads its successor, one HGETALL more per hop.
   */
  load(sessionId: string, hops = 0): Promise<StoredSession | null> {
    const redisKey = this.sessions.redisKeyOf(sessionId);
    const cache = this.cache;
    if (cache?.serving()) {
      let held: StoredSession | null | undefined;
      try {
        held = this.fromCache(cache, redisKey);
      } catch (error) {
        return Promise.reject(error);
      }
      return held !== undefined ? Promise.resolve(held) : this.loadThroughCache(cache, redisKey, sessionId, hops);
    }
    // A chain rather than an async function: every request reads, and each promise less counts.
    return this.sessions.gateway.readSession(redisKey).then((fields) => {
      if (fields === 'wrongType') return this.sessions.ignoreCorrupt(redisKey, 'not a hash');
      if (fields && renewalRecordOf(fields) === 'renewed') return this.follow(sessionId, fields, hops);
      return fields && this.adopt(redisKey, fields, Date.now());
    });
  }

  /**
   * `load` answered at once, when the near cache holds the session: undefined when the answer needs
   * Redis (no cache, a miss, an entry past its expiry). A warm request then goes on in the same tick,
   * without the promise and the microtask an async `load` costs.
   */
  loadNow(sessionId: string): StoredSession | null | undefined {
    const cache = this.cache;
    return cache?.serving() ? this.fromCache(cache, this.sessions.redisKeyOf(sessionId)) : undefined;
  }

  /**
   * A near-cache hit: the hash as Redis last reported it, adopted as a fresh read would be, so a slide
   * that fell due is still sent (and its write drops the entry). Undefined on a miss, and for an
   * entry past its expiry: Redis's own invalidation of the expired key may not have arrived yet.
   */
  private fromCache(cache: SessionCache, redisKey: string): StoredSession | null | undefined {
    const now = Date.now();
    const cached = cache.read(redisKey, now);
    if (cached && !(Number(cached[FIELD.expiresAt]) <= now)) {
      this.sessions.observer?.nearCacheRead?.(true);
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
  private async loadThroughCache(cache: SessionCache, redisKey: string, sessionId: string, hops: number): Promise<StoredSession | null> {
    const now = Date.now();
    this.sessions.observer?.nearCacheRead?.(false);
    const ticket = cache.begin(redisKey);
    try {
      const fields = await this.sessions.gateway.readSession(redisKey);
      if (fields === 'wrongType') return this.sessions.ignoreCorrupt(redisKey, 'not a hash');
      // A renewed session's old key is followed, never cached: its successor is cached under its own key.
      if (fields && renewalRecordOf(fields) === 'renewed') return await this.follow(sessionId, fields, hops);
      const session = fields && this.adopt(redisKey, fields, Date.now());
      if (session) cache.fill(redisKey, ticket, fields, now);
      return session;
    } finally {
      cache.settle(redisKey, ticket);
    }
  }

  /**
   * The session a read of `oldId` found renewed: the renewal finished if it was left half-way, then
   * the successor read, its state naming the ID the request now holds (`renewedId`).
   */
  private async follow(oldId: string, fields: StoredFields, hops: number): Promise<StoredSession | null> {
    if (hops >= MAX_HOPS) return null;
    const successor = await this.forwarding.successorFrom(oldId, fields);
    const data = successor === undefined ? null : await this.load(successor, hops + 1);
    if (data) stateOf(data)!.renewedId ??= successor;
    return data;
  }

  /**
   * A session's hash, as read at `now`, made into the session a request uses: null when past its
   * absolute deadline (deleted in the background) or corrupt (logged). When its idle timeout is due
   * to slide (`touchAfter`), the slide is sent now without waiting for it (`state.sliding`, which the
   * end of the request waits for).
   */
  adopt(redisKey: string, fields: StoredFields, now: number): StoredSession | null {
    const { sessions } = this;
    if (renewalRecordOf(fields) !== 'session') return null; // a tombstone (destroyed), or a renewed session's old key, which `load` follows
    if (pastDeadline(sessions.slides, Number(fields[FIELD.createdAt]), now)) return this.slides.dropPastDeadline(redisKey);
    let decoded: ReturnType<typeof decodeSession>;
    try {
      decoded = decodeSession(fields, sessions.cookieTemplateJson, now, sessions.sealing.sealingFor(redisKey), sessions);
    } catch (error) {
      if (error instanceof UnopenableSessionError) return sessions.sealing.ignoreUnopenable(redisKey, error.message);
      if (error instanceof CorruptSessionError) return sessions.ignoreCorrupt(redisKey, error.message);
      throw error;
    }
    const { data, state } = decoded;
    const digest = sessions.digestOfKey(redisKey);
    state.redisKey = redisKey;
    state.indexEntry = this.indexKeeper?.entryOf(data, digest);
    const slideTo = dueSlide(sessions.slides, { now, createdAt: state.createdAt, expiresAt: state.expiresAt, cookieMaxAge: data.cookie.originalMaxAge });
    if (slideTo !== undefined) {
      state.sliding = this.slides.slide(redisKey, state, slideTo, now);
      if (data.cookie.expires) data.cookie.expires = new Date(slideTo);
    }
    state.refreshed = true;
    sessions.observer?.sessionSeen?.(digest, userIdOf(data));
    return data;
  }
}
