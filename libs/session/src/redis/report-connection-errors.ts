import type { Cluster, Redis } from 'ioredis';

type Logger = { error(message: string): void; log(message: string): void };

/**
 * Logs a connection loss once and its recovery once. Without an 'error' listener ioredis prints a
 * stack trace on every reconnect attempt; with a naive one, the log floods the same way.
 */
export function reportConnectionErrors(client: Redis | Cluster, logger: Logger): void {
  let failing = false;
  client.on('error', (error: Error) => {
    if (failing) return;
    failing = true;
    logger.error(`Redis connection failed (${error.message}); retrying, and session requests answer 503 meanwhile`);
  });
  client.on('ready', () => {
    if (!failing) return;
    failing = false;
    logger.log('Redis connection restored');
  });
}
