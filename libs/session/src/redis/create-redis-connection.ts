import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { SessionRedisOption } from '../options/session-options.interface';

/** The client that holds the sessions, and whether the module made it (and so must close it). */
export interface SessionRedisConnection {
  client: Redis | Cluster;
  owned: boolean;
}

/**
 * Builds the client from the `redis` option. Clients the module makes batch the commands of one tick
 * into one socket write (auto-pipelining), fail commands at once while disconnected instead of
 * queueing them (so requests answer 503 rather than pile up), and bound every command's wait.
 */
export function createRedisConnection(option: SessionRedisOption, redisDeadline: number): SessionRedisConnection {
  if (option instanceof Redis || option instanceof Cluster) return { client: option, owned: false };
  const defaults: RedisOptions = {
    enableAutoPipelining: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // ioredis bounds each attempt; the gateway bounds the whole call. No deadline (0), no bound: an
    // ioredis `commandTimeout` of 0 would fail every command not answered within a timer's turn.
    commandTimeout: redisDeadline > 0 ? redisDeadline : undefined,
    connectTimeout: Math.max(redisDeadline, 2_000), // 2 s at least: a TLS handshake can take a while
    retryStrategy: (attempt) => Math.min(attempt * 100, 2_000), // reconnect for ever, at most 2 s apart
  };
  if (typeof option === 'string') return { client: new Redis(option, defaults), owned: true };
  if ('cluster' in option) {
    const { redisOptions, ...clusterOptions } = option.options ?? {};
    const client = new Cluster(option.cluster, {
      enableAutoPipelining: true,
      enableOfflineQueue: false,
      ...clusterOptions,
      redisOptions: { ...defaults, ...redisOptions },
    });
    return { client, owned: true };
  }
  return { client: new Redis({ ...defaults, ...option }), owned: true };
}

/** Resolves once the client is ready, or after `ms` without throwing: the app may start before Redis. */
export function whenReady(client: Redis | Cluster, ms: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      resolve(false);
    }, ms);
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    client.once('ready', onReady);
  });
}
