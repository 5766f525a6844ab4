import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { Cluster, Redis } from 'ioredis';
import { SESSION_OPTIONS, SESSION_REDIS, type ResolvedSessionOptions } from 'nest-redis-session';
import type { CartView } from '../cart/cart';

/** Where a change of one session's cart goes out to every replica. */
type CartListener = (channel: string, cart: CartView) => void;

/**
 * Tells every replica that a session's cart changed, over Redis pub/sub on the sessions' own Redis
 * (channel `<prefix>shop:cart`): each replica then pushes the new cart to that session's sockets it
 * holds. Sessions are named by their `live` key (a random value the live channel gives a session),
 * never by their ID.
 */
@Injectable()
export class LiveCart implements OnApplicationShutdown {
  private readonly logger = new Logger('LiveCart');
  private readonly channel: string;
  private subscriber?: Redis | Cluster;
  private listener?: CartListener;

  constructor(
    @Inject(SESSION_REDIS) private readonly redis: Redis | Cluster,
    @Inject(SESSION_OPTIONS) options: ResolvedSessionOptions,
  ) {
    this.channel = `${options.prefix}shop:cart`;
  }

  /** Calls `listener` with every cart change announced by any replica, this one included. */
  async listen(listener: CartListener): Promise<void> {
    this.listener = listener;
    // A connection of its own (a subscribed one takes no other command), queueing SUBSCRIBE until it is up.
    const subscriber = (this.subscriber = (this.redis as Redis).duplicate({ enableOfflineQueue: true }));
    subscriber.on('error', (error: Error) => this.logger.warn(`Cart updates: ${error.message}`));
    subscriber.on('message', (_channel: string, message: string) => this.deliver(message));
    await subscriber.subscribe(this.channel);
  }

  /** Announces a session's new cart; a session no socket ever joined (no `live` key) has nobody to tell. */
  changed(live: string | undefined, cart: CartView): void {
    if (live === undefined) return;
    this.redis
      .publish(this.channel, JSON.stringify({ live, cart }))
      .catch((error: Error) => this.logger.warn(`Announcing a cart change failed: ${error.message}`));
  }

  private deliver(message: string): void {
    try {
      const { live, cart } = JSON.parse(message) as { live: string; cart: CartView };
      this.listener?.(live, cart);
    } catch (error) {
      this.logger.warn(`Ignoring a cart update that does not parse: ${(error as Error).message}`);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.subscriber?.quit().catch(() => this.subscriber?.disconnect());
  }
}
