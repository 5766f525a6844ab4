import { randomBytes } from 'node:crypto';
import { Cluster, ReplyError, type Redis } from 'ioredis';
import { messages } from '../errors/session.messages';
import { nearCacheChannel, nearCacheHeartbeatRedisKey } from '../redis/redis-keys';
import { keySlot } from './key-slot';
import { TrackedNode, type InvalidationSource } from './tracked-node';

/** What the tracker tells the cache. */
export interface InvalidationListener {
  /** Redis reports this key changed or gone (any writer, this replica included). */
  invalidated(redisKey: string): void;
  /** Nothing cached can be trusted any more: drop it all. `reason` is a short word for the log and metrics. */
  flushed(reason: FlushReason): void;
}

/** Why the whole cache was dropped. */
export type FlushReason = 'flushall' | 'connection' | 'topology' | 'heartbeat' | 'late-invalidation';

/** Timings of the tracker, in ms. */
export interface TrackerTimings {
  /** Between two heartbeats. */
  heartbeatInterval: number;
  /** How long a heartbeat's (or a deletion's) invalidation may take before the cache is flushed. */
  invalidationTimeout: number;
}

const MIN_RETRY_MS = 100;
const MAX_RETRY_MS = 5_000;

/**
 * Keeps Redis's invalidations flowing to the near cache, on every master (`TrackedNode` each), and
 * knows when they cannot be trusted: a dropped connection (the app's client or a tracking one), a
 * topology change, a heartbeat whose invalidation does not come back in time. Each of those flushes
 * the cache and disarms it until a fresh set of nodes is armed and a first heartbeat came through.
 * Where Redis refuses `CLIENT TRACKING` (some managed services), it falls back to a channel the
 * library PUBLISHes its own writes to, and says so; where even that is refused, it stays off for good.
 */
export class InvalidationTracker {
  private nodes: TrackedNode[] = [];
  private state: 'off' | 'arming' | 'armed' | 'refused' | 'closed' = 'off';
  /** Bumped by every disarm: callbacks of an older arming do nothing. */
  private generation = 0;
  private readonly waiters = new Map<string, Set<() => void>>();
  private heartbeatTimer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  private retryDelay = MIN_RETRY_MS;
  private masterSet = '';
  /** The client's own `keyPrefix`, which Redis sees in front of every key the library names. */
  private readonly keyPrefix: string;
  private readonly replicaTag = randomBytes(6).toString('base64url');
  /** Where changes come from: Redis's tracking, or this library's PUBLISHes where tracking is refused. */
  private source: 'tracking' | 'publish' = 'tracking';
  /** The fallback channel: every replica publishes each key it writes there, and listens. */
  readonly channel: string;
  private readonly onClientChange = () => this.disarm(this.generation, 'connection');
  private readonly onTopologyChange = () => {
    // While arming, the masters are read afresh anyway (and a stale list fails its heartbeat).
    if (this.state === 'armed' && this.client instanceof Cluster && masterKeys(this.client) !== this.masterSet) this.disarm(this.generation, 'topology');
  };

  constructor(
    private readonly client: Redis | Cluster,
    private readonly prefix: string,
    private readonly listener: InvalidationListener,
    private readonly timings: TrackerTimings,
    private readonly logger: { log?(message: string): void; warn(message: string): void },
  ) {
    this.keyPrefix = (client.options as { keyPrefix?: string }).keyPrefix ?? '';
    this.channel = nearCacheChannel(prefix);
  }

  /** True when Redis refused tracking and writers must PUBLISH what they change (see `NearCache.written`). */
  get publishing(): boolean {
    return this.source === 'publish';
  }

  /** True while every master's invalidations are known to arrive: only then may the cache serve or fill. */
  get armed(): boolean {
    return this.state === 'armed';
  }

  /** Starts arming in the background; the cache stays bypassed until it is armed. */
  start(): void {
    if (this.state !== 'off') return;
    for (const event of ['close', 'end', 'reconnecting']) this.client.on(event, this.onClientChange);
    if (this.client instanceof Cluster) {
      this.client.on('-node', this.onClientChange);
      this.client.on('refresh', this.onTopologyChange);
      this.client.on('+node', this.onTopologyChange);
    }
    void this.arm();
  }

  /**
   * Resolves once this replica has received the invalidation of `redisKey` (or dropped the whole cache,
   * which serves the same end), and at the latest after `invalidationTimeout`, when the cache is flushed
   * instead. Call before the write, so an invalidation that beats the write's reply is not missed.
   */
  expect(redisKey: string, lateReason: FlushReason = 'late-invalidation'): { arrived: Promise<void>; cancel(): void } {
    let done!: () => void;
    const arrived = new Promise<void>((resolve) => (done = resolve));
    const set = this.waiters.get(redisKey) ?? new Set();
    this.waiters.set(redisKey, set);
    const generation = this.generation;
    const timer = setTimeout(() => {
      this.disarm(generation, lateReason);
      finish();
    }, this.timings.invalidationTimeout);
    timer.unref();
    const finish = () => {
      clearTimeout(timer);
      set.delete(finish);
      if (set.size === 0 && this.waiters.get(redisKey) === set) this.waiters.delete(redisKey);
      done();
    };
    set.add(finish);
    return { arrived, cancel: finish };
  }

  /** Stops for good: timers, listeners and the tracking connections. */
  close(): void {
    this.state = 'closed';
    this.generation++;
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.retryTimer);
    this.closeNodes();
    this.releaseAllWaiters();
    for (const event of ['close', 'end', 'reconnecting', '-node']) this.client.off(event, this.onClientChange);
    this.client.off('refresh', this.onTopologyChange);
    this.client.off('+node', this.onTopologyChange);
  }

  private async arm(): Promise<void> {
    const generation = this.generation;
    this.state = 'arming';
    try {
      // PUBLISH reaches every node of a cluster: with the fallback, one subscriber is enough.
      const masters = this.publishing ? this.masters().slice(0, 1) : this.masters();
      this.nodes = masters.map((master) => new TrackedNode(master, this.publishing ? this.heartbeatKeyOn() : this.heartbeatKeyOn(master)));
      const source: InvalidationSource = this.publishing
        ? { kind: 'publish', channel: this.channel }
        : { kind: 'tracking', rawPrefix: this.keyPrefix + this.prefix };
      const onBroken = () => this.disarm(generation, 'connection');
      await Promise.all(this.nodes.map((tracked) => tracked.arm(source, (keys) => this.received(keys, source.kind === 'tracking'), onBroken)));
      if (generation !== this.generation) return;
      await this.beat(generation);
      if (generation !== this.generation) return;
      // A master that joined while arming has no tracking and no heartbeat of its own: arm again.
      if (!this.publishing && this.client instanceof Cluster && masterKeys(this.client) !== this.masterSet) return this.disarm(generation, 'topology');
      this.state = 'armed';
      this.retryDelay = MIN_RETRY_MS;
      this.heartbeatTimer = setInterval(() => void this.beat(generation).catch(() => this.disarm(generation, 'heartbeat')), this.timings.heartbeatInterval);
      this.heartbeatTimer.unref();
    } catch (error) {
      if (generation !== this.generation) return; // disarmed or closed meanwhile
      if (isRefusal(error)) {
        this.closeNodes();
        if (this.publishing) {
          this.state = 'refused';
          this.logger.warn(messages.nearCacheRefused((error as Error).message));
          return;
        }
        this.source = 'publish';
        this.logger.warn(messages.nearCacheFallback((error as Error).message));
        this.generation++;
        this.state = 'off';
        return void this.arm();
      }
      this.disarm(generation, 'connection');
    }
  }

  /** Writes every master's heartbeat key and waits for their invalidations; rejects when one is late. */
  private async beat(generation: number): Promise<void> {
    const ttl = Math.max(this.timings.heartbeatInterval * 10, 10_000); // the key outlives a few missed beats, never for ever
    await Promise.all(
      this.nodes.map(async (tracked) => {
        if (!tracked.heartbeatKey) return;
        const heartbeat = tracked.heartbeatKey.slice(this.keyPrefix.length);
        const heard = this.expect(heartbeat, 'heartbeat');
        await tracked.beat(ttl, heartbeat).catch((error: unknown) => {
          heard.cancel();
          throw error;
        });
        await heard.arrived;
      }),
    );
    // A late heartbeat has disarmed the generation it belonged to.
    if (generation !== this.generation) throw new Error('heartbeat late');
  }

  /** `stored`: the keys as Redis stores them (tracking), with the client's `keyPrefix`; else as the library names them. */
  private received(keys: string[] | null, stored: boolean): void {
    if (keys === null) {
      this.listener.flushed('flushall');
      return this.releaseAllWaiters();
    }
    for (const raw of keys) {
      const redisKey = stored && raw.startsWith(this.keyPrefix) ? raw.slice(this.keyPrefix.length) : raw;
      this.listener.invalidated(redisKey);
      const waiting = this.waiters.get(redisKey);
      if (waiting) for (const finish of [...waiting]) finish();
    }
  }

  /** Flushes the cache and arms a fresh set of nodes after a growing delay; a no-op for an older generation. */
  private disarm(generation: number, reason: FlushReason): void {
    if (generation !== this.generation || this.state === 'closed') return;
    const wasArmed = this.state === 'armed';
    this.generation++;
    clearInterval(this.heartbeatTimer);
    this.closeNodes();
    this.listener.flushed(reason);
    this.releaseAllWaiters();
    if (this.state === 'refused') return;
    this.state = 'off';
    if (wasArmed) this.logger.warn(messages.nearCacheDisarmed(reason));
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.arm(), this.retryDelay);
    this.retryTimer.unref();
    this.retryDelay = Math.min(this.retryDelay * 2, MAX_RETRY_MS);
  }

  private releaseAllWaiters(): void {
    for (const set of [...this.waiters.values()]) for (const finish of [...set]) finish();
  }

  private closeNodes(): void {
    for (const tracked of this.nodes) tracked.close();
    this.nodes = [];
  }

  /** The masters to track: the client itself, or every master of a cluster once it knows them. */
  private masters(): Redis[] {
    if (!(this.client instanceof Cluster)) {
      if (this.client.status !== 'ready') throw new Error('the Redis client is not ready');
      return [this.client];
    }
    if (this.client.status !== 'ready') throw new Error('the cluster client is not ready');
    this.masterSet = masterKeys(this.client);
    return this.client.nodes('master');
  }

  /** A heartbeat key under the prefix that hashes to a slot this master serves. */
  private heartbeatKeyOn(master?: Redis): string | undefined {
    const keyOf = (tail: string) => this.keyPrefix + nearCacheHeartbeatRedisKey(this.prefix, tail);
    if (!(this.client instanceof Cluster) || !master) return keyOf(this.replicaTag);
    const address = `${master.options.host}:${master.options.port}`;
    const slots = this.client.slots;
    for (let tag = 0; tag < 10_000; tag++) {
      const key = keyOf(`{${tag}}:${this.replicaTag}`);
      if (slots[keySlot(key)]?.[0] === address) return key;
    }
    return undefined; // the prefix's own hash tag pins every key elsewhere: no session lives here
  }
}

/** The cluster's masters as one comparable string. */
function masterKeys(cluster: Cluster): string {
  return cluster
    .nodes('master')
    .map((node) => `${node.options.host}:${node.options.port}`)
    .sort()
    .join(',');
}

/** Redis refused tracking itself (unknown command, no permission), as opposed to being out of reach. */
function isRefusal(error: unknown): boolean {
  return error instanceof ReplyError && /unknown command|unknown subcommand|NOPERM|not allowed|disabled/i.test((error as Error).message);
}
