import type { Cluster, Redis } from 'ioredis';
import type { SessionObserver } from '../redis/session-observer';
import type { WriteListener } from '../redis/session-gateway';
import { InvalidationTracker, type FlushReason, type InvalidationListener, type TrackerTimings } from './invalidation-tracker';
import { SessionLru, type CachedSession, type SessionLruBounds } from './session-lru';

/** The near cache's settings, resolved from the `nearCache` option and `redisDeadline`. */
export type NearCacheSettings = SessionLruBounds & TrackerTimings;

/** What the cache needs from the rest of the library, passed in so it stays testable on its own. */
export interface NearCacheContext {
  client: Redis | Cluster;
  prefix: string;
  /** False while the data connection is down or a call just failed for want of Redis: the cache then never serves. */
  redisReachable(): boolean;
  /** The observer of the moment (metrics are attached after the cache is built). */
  observer(): SessionObserver | undefined;
  logger: { log?(message: string): void; warn(message: string): void };
}

/**
 * Sessions this replica read recently, held as Redis holds them (fields and expiry) and served with no
 * round trip, kept coherent by Redis's own invalidations (`InvalidationTracker`). A load marks its key
 * before it asks Redis (the placeholder of Redis's client-side caching guide): an invalidation, or a
 * write of this replica, arriving before the answer cancels the fill, so a change is never lost to a
 * load that raced it. While the tracker is not armed, or Redis is out of reach, the cache neither
 * serves nor fills: every request reads Redis, and a 503 stays a 503.
 */
export class NearCache implements InvalidationListener, WriteListener {
  private readonly lru: SessionLru;
  private readonly tracker: InvalidationTracker;
  /** Loads in flight by key, with their ticket: the placeholders. */
  private readonly pending = new Map<string, number>();
  private tickets = 0;
  /** How long a write waits for its PUBLISH when it cannot wait for its own message back. */
  private readonly publishWait: number;

  constructor(
    settings: NearCacheSettings,
    private readonly context: NearCacheContext,
  ) {
    this.publishWait = settings.invalidationTimeout;
    this.lru = new SessionLru(settings);
    this.tracker = new InvalidationTracker(context.client, context.prefix, this, settings, context.logger);
  }

  /** Starts listening for invalidations; the cache serves once they are armed. */
  start(): void {
    this.tracker.start();
  }

  close(): void {
    this.tracker.close();
    this.lru.clear();
    this.pending.clear();
  }

  /** True when the cache may serve and fill now. */
  serving(): boolean {
    return this.tracker.armed && this.context.redisReachable();
  }

  /** Entries held, and their bytes by the cache's own accounting (for the gauges). */
  get stats(): { entries: number; bytes: number } {
    return { entries: this.lru.size, bytes: this.lru.bytes };
  }

  /** Whether the key is held now (diagnostics and tests; a read would also check its age). */
  holds(redisKey: string): boolean {
    return this.lru.has(redisKey);
  }

  /** The session as Redis last reported it, or undefined (absent, too old, or the cache not serving). */
  read(redisKey: string, now: number): CachedSession | undefined {
    return this.serving() ? this.lru.get(redisKey, now) : undefined;
  }

  /** Marks a load of `redisKey` about to ask Redis; the ticket lets `fill` store its answer. Undefined: do not fill. */
  begin(redisKey: string): number | undefined {
    if (!this.serving()) return undefined;
    const ticket = ++this.tickets;
    this.pending.set(redisKey, ticket);
    return ticket;
  }

  /** Stores what the load found, unless something about the key (or everything) changed since `begin`. */
  fill(redisKey: string, ticket: number | undefined, session: CachedSession, now: number): void {
    if (ticket === undefined || this.pending.get(redisKey) !== ticket || !this.serving()) return;
    this.pending.delete(redisKey);
    this.lru.set(redisKey, session, now);
  }

  /** Ends a load's placeholder (after a fill, a miss or a failure: a failure is never cached). */
  settle(redisKey: string, ticket: number | undefined): void {
    if (ticket !== undefined && this.pending.get(redisKey) === ticket) this.pending.delete(redisKey);
  }

  /** Drops one key and cancels its loads in flight; true when an entry was held. */
  forget(redisKey: string): boolean {
    this.pending.delete(redisKey);
    return this.lru.delete(redisKey);
  }

  /** This replica writes the key: whatever is held or loading is out of date. */
  writing(redisKey: string): void {
    this.forget(redisKey);
  }

  /**
   * The write settled: a load that started meanwhile may have read the state before it. Where Redis
   * refused tracking, the key is published for every replica, and the write's caller waits until this
   * replica has heard it back (at most `redisDeadline`, else the cache is flushed): Redis delivers a
   * message to every subscriber at once, so by the time the write answers the other replicas have it
   * too, as with tracking. The message is sent once the write has run, never before it.
   * While this replica is not armed (its subscription lost, or arming again) it cannot hear its own
   * message, yet the others may be serving: the caller then waits for Redis to answer the PUBLISH,
   * which Redis does only once the message is on its way to every subscriber (bounded the same way).
   */
  written(redisKey: string): Promise<void> | undefined {
    this.forget(redisKey);
    if (!this.tracker.publishing) return undefined;
    const heard = this.tracker.armed ? this.tracker.expect(redisKey) : undefined;
    const published = this.context.client.publish(this.tracker.channel, redisKey).then(
      () => undefined,
      () => heard?.cancel(),
    );
    if (heard) return heard.arrived;
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.publishWait)));
    return Promise.race([published, gaveUp]).finally(() => clearTimeout(timer));
  }

  /** True when the cache learns of changes from this library's PUBLISHes, Redis having refused tracking. */
  get publishing(): boolean {
    return this.tracker.publishing;
  }

  /** See `InvalidationTracker.expect`; undefined when the cache is not armed (then it holds nothing). */
  expectInvalidation(redisKey: string): { arrived: Promise<void>; cancel(): void } | undefined {
    return this.tracker.armed ? this.tracker.expect(redisKey) : undefined;
  }

  invalidated(redisKey: string): void {
    if (this.forget(redisKey)) this.context.observer()?.nearCacheInvalidated?.();
  }

  flushed(reason: FlushReason): void {
    this.lru.clear();
    this.pending.clear();
    this.context.observer()?.nearCacheFlushed?.(reason);
  }
}
