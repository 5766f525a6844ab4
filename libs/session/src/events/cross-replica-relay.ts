import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { orderedPublisher } from '../redis/ordered-publish';
import { isSessionEvent, type SessionEvent } from './session-event';
import type { SessionEvents } from './session-events';
import { closeConnection, subscriberConnection } from './subscriber-connection';

type Logger = { warn(message: string): void; log(message: string): void };

/** What goes over the channel: the event, and which module instance sent it. */
interface RelayedEvent {
  origin: string;
  event: SessionEvent;
}

/**
 * `events.crossReplica`: publishes each event this replica records on one Redis channel and delivers
 * every other replica's to the local subscribers, so each replica's `SessionEvents` has every event
 * exactly once. Its own come back from Redis too and are dropped by `origin`, a random name per
 * module instance (the replica name is not enough: tests and workers run several apps per process).
 * A classic PUBLISH reaches the subscribers of every node of a cluster, so one subscriber suffices;
 * each replica publishes through one node (`orderedPublisher`), so its events arrive in the order it
 * recorded them. Publishing is fire-and-forget: an event is a notification, never part of a request's
 * outcome.
 */
export class CrossReplicaRelay {
  private readonly origin = randomUUID();
  private subscriber?: Redis | Cluster;
  private publishFailing = false;
  private readonly send: (channel: string, message: string) => Promise<number>;

  constructor(
    private readonly client: Redis | Cluster,
    private readonly channel: string,
    private readonly events: SessionEvents,
    private readonly logger: Logger,
  ) {
    // The channel's name doubles as the routing key: under the app's prefix, and never created.
    this.send = orderedPublisher(client, channel);
  }

  /** Resolves once subscribed: from then on, no other replica's event is missed. */
  async start(): Promise<void> {
    const subscriber = subscriberConnection(this.client, 'The session events subscriber (events.crossReplica)', this.logger);
    this.subscriber = subscriber;
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.receive(message);
    });
    this.events.relayTo((event) => this.publish(event));
    await subscriber.subscribe(this.channel);
  }

  async close(): Promise<void> {
    if (this.subscriber) await closeConnection(this.subscriber);
  }

  private publish(event: SessionEvent): void {
    const message: RelayedEvent = { origin: this.origin, event };
    this.send(this.channel, JSON.stringify(message)).then(
      () => {
        if (this.publishFailing) this.logger.log('Session events are published again (events.crossReplica)');
        this.publishFailing = false;
      },
      (error: Error) => {
        if (!this.publishFailing) this.logger.warn(`Publishing a session event failed (${error.message}); other replicas miss it (events.crossReplica)`);
        this.publishFailing = true;
      },
    );
  }

  private receive(message: string): void {
    let relayed: Partial<RelayedEvent>;
    try {
      relayed = JSON.parse(message) as Partial<RelayedEvent>;
    } catch {
      return; // not ours: another client publishing on the channel
    }
    if (relayed?.origin === this.origin || !isSessionEvent(relayed?.event)) return;
    this.events.deliver(onlyEventFields(relayed.event));
  }
}

/** The event's own fields and nothing else, whatever else a message carried. */
function onlyEventFields(event: SessionEvent): SessionEvent {
  const { type, digest, userId, replica, at } = event;
  const previousDigest = (event as { previousDigest?: unknown }).previousDigest;
  const clean = { type, digest, replica, at } as SessionEvent;
  if (userId !== undefined) clean.userId = userId;
  if (typeof previousDigest === 'string') (clean as { previousDigest?: string }).previousDigest = previousDigest;
  return clean;
}
