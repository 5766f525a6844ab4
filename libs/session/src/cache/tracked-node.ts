import type { Redis, RedisOptions } from 'ioredis';

/** Where Redis sends invalidations in RESP2 mode: to a client subscribed to this channel. */
export const INVALIDATE_CHANNEL = '__redis__:invalidate';

/**
 * How a node learns of changes: Redis's tracking (every writer), or, where Redis refuses tracking,
 * a channel this library PUBLISHes every key it writes to (its own writes only).
 */
export type InvalidationSource = { kind: 'tracking'; rawPrefix: string } | { kind: 'publish'; channel: string };

/** Keys Redis reports changed, as stored (the client's `keyPrefix` included); null when it dropped every key (FLUSHALL, FLUSHDB). */
export type InvalidationHandler = (keys: string[] | null) => void;

/**
 * Server-assisted client-side caching on one Redis master, in RESP2's two-connection mode (ioredis
 * does not surface RESP3 push messages): a subscriber on `__redis__:invalidate`, and a second
 * connection that turns on `CLIENT TRACKING … REDIRECT <subscriber> BCAST PREFIX <prefix>`. In BCAST
 * mode Redis reports every change of a key under the prefix, by any client, to the subscriber; the
 * tracking connection need not be the one reading, so the application's own client is left alone.
 * Both connections are the cache's own and never reconnect: a drop ends tracking, and the
 * `InvalidationTracker` flushes the cache and arms a fresh pair.
 */
export class TrackedNode {
  private subscriber?: Redis;
  private tracker?: Redis;
  private closed = false;

  /**
   * @param source a connection to the master (the app's client, or a Cluster's node), duplicated with its settings
   * @param heartbeatKey a key under the prefix that lives on this master; undefined when no session key can (a prefix with a hash tag on another master)
   */
  constructor(
    private readonly source: Redis,
    readonly heartbeatKey: string | undefined,
  ) {}

  private source_: InvalidationSource = { kind: 'tracking', rawPrefix: '' };

  /**
   * Opens both connections and subscribes; with tracking, turns it on. Rejects with Redis's error when
   * refused or unreachable. With `publish`, the messages are keys as the library names them.
   */
  async arm(source: InvalidationSource, onInvalidate: InvalidationHandler, onBroken: (why: string) => void): Promise<void> {
    this.source_ = source;
    const settings: Partial<RedisOptions> = {
      lazyConnect: true,
      enableOfflineQueue: false,
      enableAutoPipelining: false,
      autoResubscribe: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null, // never reconnect: a new pair is armed after a flush instead
      reconnectOnError: null,
      keyPrefix: undefined, // keys are written and tracked as stored
      // RESP2, whatever the client's default (ioredis 6 speaks RESP3): invalidations must come as pub/sub messages.
      ...({ protocol: 2 } as Partial<RedisOptions>),
    };
    const subscriber = (this.subscriber = this.source.duplicate(settings));
    const tracker = (this.tracker = this.source.duplicate(settings));
    for (const connection of [subscriber, tracker]) {
      connection.on('error', () => undefined); // a drop is reported through 'close'; the data client logs Redis errors
      connection.on('close', () => {
        if (!this.closed) onBroken('a tracking connection closed');
      });
    }
    await Promise.all([subscriber.connect(), tracker.connect()]);
    const channel = source.kind === 'tracking' ? INVALIDATE_CHANNEL : source.channel;
    subscriber.on('messageBuffer', (from: Buffer, message: Buffer[] | Buffer | null) => {
      if (String(from) !== channel) return;
      onInvalidate(message === null || message === undefined ? null : Array.isArray(message) ? message.map(String) : [String(message)]);
    });
    if (source.kind === 'publish') {
      await subscriber.subscribe(channel);
      return;
    }
    const subscriberId = await subscriber.client('ID');
    await subscriber.subscribe(channel);
    await tracker.call('CLIENT', 'TRACKING', 'on', 'REDIRECT', String(subscriberId), 'BCAST', 'PREFIX', source.rawPrefix);
  }

  /**
   * Writes the heartbeat key (with a TTL, like every key the library writes), or publishes `published`
   * on the fallback channel; its coming back proves the chain works.
   */
  beat(ttl: number, published: string): Promise<unknown> {
    if (!this.tracker || !this.heartbeatKey) return Promise.resolve();
    if (this.source_.kind === 'publish') return this.tracker.publish(this.source_.channel, published);
    return this.tracker.set(this.heartbeatKey, String(Date.now()), 'PX', ttl);
  }

  /** Closes both connections; Redis forgets the tracking with them. */
  close(): void {
    this.closed = true;
    this.subscriber?.disconnect();
    this.tracker?.disconnect();
  }
}
