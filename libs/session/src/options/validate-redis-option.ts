import { Cluster, Redis } from 'ioredis';
import { SessionConfigError } from '../errors/session-config.error';
import type { SessionRedisOption } from './session-options.interface';

/** Checks the shape of the `redis` option at boot; the client itself is created later. */
export function validateRedisOption(redis: unknown): SessionRedisOption {
  if (redis instanceof Redis || redis instanceof Cluster) return redis;
  if (typeof redis === 'string') {
    if (!/^rediss?:\/\//.test(redis)) {
      throw new SessionConfigError('redis', `must be a redis:// or rediss:// URL; got "${redis}"`);
    }
    return redis;
  }
  if (redis === null || typeof redis !== 'object') {
    throw new SessionConfigError('redis', 'is required: a redis:// URL, ioredis options, { sentinels, name }, { cluster: nodes }, or an ioredis client');
  }
  const shape = redis as Record<string, unknown>;
  if ('cluster' in shape) {
    if (!Array.isArray(shape.cluster) || shape.cluster.length === 0) {
      throw new SessionConfigError('redis.cluster', 'must be a non-empty array of cluster nodes');
    }
  } else if ('sentinels' in shape) {
    if (!Array.isArray(shape.sentinels) || shape.sentinels.length === 0) {
      throw new SessionConfigError('redis.sentinels', 'must be a non-empty array of { host, port }');
    }
    if (typeof shape.name !== 'string' || shape.name.length === 0) {
      throw new SessionConfigError('redis.name', 'must name the Sentinel master group');
    }
  }
  return redis;
}
