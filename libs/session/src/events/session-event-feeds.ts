import type { ModuleRef } from '@nestjs/core';
import type { Cluster, Redis } from 'ioredis';
import type { Subscription } from 'rxjs';
import type { ResolvedSessionOptions } from '../options/resolved-options';
import { eventsChannel } from '../redis/redis-keys';
import { CrossReplicaRelay } from './cross-replica-relay';
import { bridgeToEventEmitter } from './event-emitter-bridge';
import { ExpiredKeyListener } from './expired-key-listener';
import type { SessionEvents } from './session-events';

type Logger = { warn(message: string): void; log(message: string): void; error(message: string): void };

/**
 * Everything `SessionEvents` hears beyond this replica's own session code, as the `events` option
 * asks: the other replicas (`crossReplica`), Redis's expiries (`expired`), and the app's
 * `EventEmitter2` it repeats them to. Started with the module, closed with it; only connections it
 * opened itself are closed.
 */
export class SessionEventFeeds {
  private readonly relay?: CrossReplicaRelay;
  private readonly expiries?: ExpiredKeyListener;
  private bridge?: Subscription;

  constructor(
    options: ResolvedSessionOptions,
    client: Redis | Cluster,
    private readonly events: SessionEvents,
    private readonly moduleRef: ModuleRef,
    private readonly logger: Logger,
  ) {
    const { crossReplica, expired } = options.events;
    if (crossReplica) this.relay = new CrossReplicaRelay(client, eventsChannel(options.prefix), events, logger);
    if (expired !== 'off') this.expiries = new ExpiredKeyListener(client, options.prefix, events, expired === 'configure', logger);
  }

  /**
   * Subscribes where the options ask, giving up waiting after `timeout` ms (Redis unreachable at
   * boot: the connections keep trying, and subscribe once it answers).
   */
  async start(timeout: number): Promise<void> {
    this.bridge = bridgeToEventEmitter(this.events, this.moduleRef, this.logger);
    const subscribed = Promise.all([this.relay?.start(), this.expiries?.start()]).then(() => true);
    const waited = new Promise<false>((resolve) => setTimeout(() => resolve(false), timeout).unref());
    const ready = await Promise.race([subscribed.catch((error: Error) => this.logger.warn(`Subscribing for session events failed: ${error.message}`)), waited]);
    if (ready === false) this.logger.warn(`Session events are not subscribed yet after ${timeout} ms (Redis not answering); events until then are missed`);
  }

  async close(): Promise<void> {
    this.bridge?.unsubscribe();
    await Promise.all([this.relay?.close(), this.expiries?.close()]);
  }
}
