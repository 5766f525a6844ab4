import type { Cluster, Redis } from 'ioredis';
import { digestOfSessionKey, expiredEventsChannel } from '../redis/redis-keys';
import type { SessionEvents } from './session-events';
import { closeConnection, subscriberConnection } from './subscriber-connection';

type Logger = { warn(message: string): void; log(message: string): void };

/**
 * `events.expired`: Redis's `expired` keyspace notifications, turned into `expired` events for the
 * session keys under the prefix. Redis sends a notification only to the clients of the node where
 * the key lived, so a cluster gets one subscriber per master, kept in step with the topology.
 *
 * Best-effort by nature: Redis sends `expired` when it deletes the key, which its background cycle or
 * a later access does some time after the TTL ran out; a notification sent while the subscriber is
 * reconnecting is lost; and it needs `notify-keyspace-events` to hold `E` and `x` (checked at boot).
 * Each replica that enables it hears every expiry itself: these events are not relayed.
 */
export class ExpiredKeyListener {
  /** Subscribers by node (`host:port`), one for a standalone or Sentinel setup. */
  private readonly subscribers = new Map<string, Redis>();
  private readonly onRefresh = () => void this.followMasters().catch((error: Error) => this.logger.warn(this.failed(error)));
  private closed = false;

  constructor(
    private readonly client: Redis | Cluster,
    private readonly prefix: string,
    private readonly events: SessionEvents,
    private readonly configureKeyspaceEvents: boolean,
    private readonly logger: Logger,
  ) {}

  /** Resolves once every master's subscriber is subscribed. */
  async start(): Promise<void> {
    if (!isCluster(this.client)) {
      const db = (this.client.options as { db?: number }).db ?? 0;
      const subscriber = subscriberConnection(this.client, 'The expired-sessions subscriber (events.expired)', this.logger);
      // A reconnect may land on another server (a Sentinel failover promotes a replica, whose
      // notify-keyspace-events nobody checked): check again each time, after the first connection.
      let connections = 0;
      subscriber.on('ready', () => {
        if (++connections > 1) void this.checkAgain();
      });
      return this.listen(addressOf(this.client), subscriber, db);
    }
    this.client.on('refresh', this.onRefresh);
    await this.followMasters();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (isCluster(this.client)) this.client.off('refresh', this.onRefresh);
    await Promise.all([...this.subscribers.values()].map(closeConnection));
    this.subscribers.clear();
  }

  /** One subscriber per master the cluster has now: new masters get one, former ones lose theirs. */
  private async followMasters(): Promise<void> {
    const masters = new Map((this.client as Cluster).nodes('master').map((node) => [addressOf(node), node] as const));
    for (const [address, subscriber] of this.subscribers) {
      if (masters.has(address)) continue;
      this.subscribers.delete(address);
      void closeConnection(subscriber);
    }
    const added = [...masters].filter(([address]) => !this.subscribers.has(address));
    await Promise.all(
      added.map(([address, node]) => this.listen(address, subscriberConnection(node, `The expired-sessions subscriber of ${address}`, this.logger), 0)),
    );
  }

  private async listen(address: string, subscriber: Redis, db: number): Promise<void> {
    if (this.closed) return void subscriber.disconnect();
    this.subscribers.set(address, subscriber);
    // Before SUBSCRIBE: a subscribed connection may send nothing else.
    await this.checkNotifications(address, subscriber);
    const channel = expiredEventsChannel(db);
    subscriber.on('message', (from: string, redisKey: string) => {
      if (from !== channel) return;
      const digest = digestOfSessionKey(this.prefix, redisKey);
      if (digest) this.events.deliver({ type: 'expired', digest, replica: this.events.replica, at: Date.now() });
    });
    await subscriber.subscribe(channel);
  }

  /**
   * `checkNotifications` on the server the client reaches now, over a short-lived connection of its
   * own: the subscriber, subscribed again by ioredis on reconnect, may send nothing else (RESP2).
   */
  private async checkAgain(): Promise<void> {
    if (this.closed) return;
    const probe = (this.client as Redis).duplicate({
      enableOfflineQueue: true,
      enableAutoPipelining: false,
      maxRetriesPerRequest: 1,
      retryStrategy: () => null,
    });
    probe.on('error', () => undefined); // a failure is logged by checkNotifications
    try {
      await this.checkNotifications(addressOf(this.client as Redis), probe);
    } finally {
      await closeConnection(probe);
    }
  }

  /** Logs when the node does not send `expired` notifications, or sets them when `events.expired` is 'configure'. */
  private async checkNotifications(configured: string, connection: Redis): Promise<void> {
    let flags: string;
    let address = configured;
    try {
      flags = configValue(await connection.config('GET', 'notify-keyspace-events'), 'notify-keyspace-events');
      address = reachedAddress(connection) ?? configured;
    } catch (error) {
      this.logger.warn(
        `Could not read notify-keyspace-events on ${address} (${(error as Error).message}): expired events need it to include "Ex" (events.expired)`,
      );
      return;
    }
    if (flags.includes('E') && (flags.includes('x') || flags.includes('A'))) return;
    if (!this.configureKeyspaceEvents) {
      this.logger.warn(
        `Redis at ${address} sends no expired notifications (notify-keyspace-events is "${flags}"): no expired events until it includes "Ex" ` +
          '(CONFIG SET notify-keyspace-events Ex, or events.expired: "configure")',
      );
      return;
    }
    const wanted = [...new Set(`${flags}Ex`)].join('');
    try {
      await connection.config('SET', 'notify-keyspace-events', wanted);
      this.logger.log(`Set notify-keyspace-events to "${wanted}" on ${address} (events.expired: 'configure')`);
    } catch (error) {
      this.logger.warn(
        `Could not set notify-keyspace-events on ${address} (${(error as Error).message}): no expired events from it (events.expired: 'configure')`,
      );
    }
  }

  private failed(error: Error): string {
    return `Following the cluster's masters for expired events failed (${error.message}); the next topology refresh tries again`;
  }
}

function isCluster(client: Redis | Cluster): client is Cluster {
  return (client as { isCluster?: boolean }).isCluster === true;
}

/** One value of a CONFIG GET reply: a `[name, value]` array (RESP2, and RESP3 read the legacy way) or a `{ name: value }` object (RESP3 `replyMapping: 'resp3'`). */
function configValue(reply: unknown, name: string): string {
  let value: unknown;
  if (Array.isArray(reply)) value = reply.indexOf(name) < 0 ? undefined : reply[reply.indexOf(name) + 1];
  else if (reply instanceof Map) value = reply.get(name);
  else if (reply !== null && typeof reply === 'object') value = (reply as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : '';
}

/**
 * The server a connected client reached. Behind Sentinel the client's options hold only defaults
 * (localhost:6379): the master it was sent to is known from its socket alone.
 */
function reachedAddress(connection: Redis): string | undefined {
  const socket = (connection as unknown as { stream?: { remoteAddress?: string; remotePort?: number } }).stream;
  return socket?.remoteAddress && socket.remotePort ? `${socket.remoteAddress}:${socket.remotePort}` : undefined;
}

function addressOf(node: Redis): string {
  const { host, port } = node.options as { host?: string; port?: number };
  return `${host}:${port}`;
}
