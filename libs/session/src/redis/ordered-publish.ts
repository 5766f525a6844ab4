import type { Cluster, Redis } from 'ioredis';
import { defineScript, defineScriptsOn, runScript, unexpectedReply } from './lua-script';

interface PublishArgs {
  routingKey: string;
  channel: string;
  message: string;
}

/** PUBLISH through the node that owns `routingKey`'s slot (lua/publish-ordered.lua). */
export const PUBLISH_ORDERED = defineScript({
  name: 'sessionPublishOrdered',
  file: 'publish-ordered',
  keys: 1,
  args: ({ routingKey, channel, message }: PublishArgs) => [routingKey, channel, message],
  parse: (reply, name): number => {
    if (typeof reply === 'number') return reply;
    throw unexpectedReply(name, reply, 'an integer');
  },
});

/**
 * A publish function that keeps the order of what it sends: on one Redis, PUBLISH on the one
 * connection; on a cluster, through one node chosen by `routingKey` (a key under the app's prefix,
 * never created), because ioredis sends a keyless command to any node and the cluster bus does not
 * keep the order of messages that entered at different nodes.
 */
export function orderedPublisher(client: Redis | Cluster, routingKey: string): (channel: string, message: string) => Promise<number> {
  if (!(client as { isCluster?: boolean }).isCluster) return (channel, message) => client.publish(channel, message);
  defineScriptsOn(client, [PUBLISH_ORDERED]);
  return (channel, message) => runScript(client, PUBLISH_ORDERED, { routingKey, channel, message });
}
