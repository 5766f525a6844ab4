import type { Cluster, Redis } from 'ioredis';

type Logger = { warn(message: string): void; log(message: string): void };

/**
 * What a subscriber changes from the client it copies. The module's client fails commands at once
 * while disconnected (no offline queue) and batches them; a SUBSCRIBE must instead wait for the
 * connection, and a cluster's node connections do not reconnect by themselves.
 */
const SUBSCRIBER_OPTIONS = {
  enableOfflineQueue: true,
  enableAutoPipelining: false,
  retryStrategy: (attempt: number) => Math.min(attempt * 100, 2_000), // reconnect for ever, at most 2 s apart
};

/**
 * A connection of the module's own for SUBSCRIBE, copied from `client` (same address, options and
 * credentials): a subscribed connection can send nothing else, so it never shares the client's.
 * Its losses are logged once each, as `what`, and ioredis subscribes again on every reconnect.
 */
export function subscriberConnection<T extends Redis | Cluster>(client: T, what: string, logger: Logger): T {
  const connection = (
    (client as { isCluster?: boolean }).isCluster
      ? (client as Cluster).duplicate([], { enableOfflineQueue: true, enableAutoPipelining: false })
      : (client as Redis).duplicate(SUBSCRIBER_OPTIONS)
  ) as T;
  let failing = false;
  connection.on('error', (error: Error) => {
    if (failing) return;
    failing = true;
    logger.warn(`${what} lost its Redis connection (${error.message}); retrying, events are missed meanwhile`);
  });
  connection.on('ready', () => {
    if (!failing) return;
    failing = false;
    logger.log(`${what} connected again`);
  });
  return connection;
}

/** Closes a connection of the module's own, waiting for the socket to end so nothing is left open at exit. */
export async function closeConnection(connection: Redis | Cluster): Promise<void> {
  if (connection.status === 'end') return;
  const ended = new Promise<void>((resolve) => connection.once('end', () => resolve()));
  await connection.quit().catch(() => connection.disconnect());
  await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
}
