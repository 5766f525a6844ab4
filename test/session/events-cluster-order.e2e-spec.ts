import { Cluster } from 'ioredis';
import { SessionEvents, type SessionEvent } from '@app/session';
import { CrossReplicaRelay } from '@app/session/events/cross-replica-relay';
import { eventsChannel } from '@app/session/redis/redis-keys';
import { uniquePrefix } from '../support/prefix';
import { waitUntil } from '../support/probe';
import { startCluster, topologyAvailable } from '../support/topologies';

const available = topologyAvailable();
const quietLogger = { warn: () => undefined, log: () => undefined };

/**
 * One replica's events reach the others in the order it recorded them, on Redis Cluster too, where a
 * keyless PUBLISH goes to any node and the cluster bus does not keep the order of messages that entered
 * at different nodes (a `logout` could arrive before the `login` it ends). Relays are used directly,
 * several per test so that their subscribers sit on different nodes.
 */
(available.cluster ? describe : describe.skip)(`cross-replica events on Redis Cluster${available.cluster ? '' : ` (skipped: ${available.reason})`}`, () => {
  const COUNT = 2_000;
  let cluster: Awaited<ReturnType<typeof startCluster>>;
  const clients: Cluster[] = [];
  const relays: CrossReplicaRelay[] = [];

  beforeAll(async () => {
    cluster = await startCluster();
  });
  afterAll(async () => {
    await Promise.all(relays.map((relay) => relay.close()));
    await Promise.all(clients.map((client) => client.quit()));
    await cluster?.stop();
  });

  async function replica(name: string, channel: string): Promise<{ events: SessionEvents; heard: SessionEvent[] }> {
    const client = new Cluster(cluster.nodes, { enableOfflineQueue: false, enableAutoPipelining: true });
    clients.push(client);
    await waitUntil('the cluster client to be ready', () => Promise.resolve(client.status === 'ready'));
    const events = new SessionEvents(name);
    const heard: SessionEvent[] = [];
    events.subscribe((event) => heard.push(event));
    const relay = new CrossReplicaRelay(client, channel, events, quietLogger);
    relays.push(relay);
    await relay.start();
    return { events, heard };
  }

  it(`delivers ${COUNT} events of one replica to every other in the order it recorded them`, async () => {
    const channel = eventsChannel(uniquePrefix('order'));
    const sender = await replica('sender', channel);
    const receivers = await Promise.all(['r1', 'r2', 'r3', 'r4'].map((name) => replica(name, channel)));

    const digests = Array.from({ length: COUNT }, (_, i) => `digest-${String(i).padStart(5, '0')}`);
    for (const [i, digest] of digests.entries()) {
      sender.events.record({ type: i % 2 ? 'logout' : 'login', digest, userId: 'u' });
      // A pause now and then, so that the messages spread over many ticks, as a replica's events do.
      if (i % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
    }

    for (const { heard } of receivers) {
      await waitUntil('every event to arrive', () => Promise.resolve(heard.length === COUNT));
      expect(heard.map((event) => event.digest)).toEqual(digests);
    }
  });
});
