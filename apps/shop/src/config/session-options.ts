import { Logger } from '@nestjs/common';
import type { Registry } from 'prom-client';
import { SessionConfigError, type SessionModuleOptions, type SessionRedisOption } from 'nest-redis-session';
import { hostAndPort, type RedisAddress, type ShopEnvironment } from './shop-environment';

const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
// Public on purpose: any development machine may use it, and NODE_ENV=production refuses to start without SESSION_SECRET.
const DEV_SECRET = 'shop-development-secret-do-not-use-in-production';
// Public on purpose, like DEV_SECRET: 32 bytes anyone may read; production requires SESSION_ENCRYPTION_KEYS.
const DEV_ENCRYPTION_KEY = Buffer.from('shop-development-key-not-secret!').toString('base64');

/**
 * Everything the shop asks of SessionModule, in one place. SessionModule checks these options at
 * boot (a secret's length, a key's size, the Redis URL's scheme) and names the option at fault;
 * `withVariableName` adds the variable it came from.
 */
export function sessionOptions(env: ShopEnvironment, registry: Registry): SessionModuleOptions {
  return {
    secret: env.SESSION_SECRET ?? developmentOnly('SESSION_SECRET', DEV_SECRET, 'a fixed development secret'),
    redis: redisOption(env),
    encryption: { keys: env.SESSION_ENCRYPTION_KEYS ?? developmentOnly('SESSION_ENCRYPTION_KEYS', DEV_ENCRYPTION_KEY, 'a fixed development key') },
    // Browsers keep the cookie; apps and scripts without cookies send X-Session-Token (docs/shop-api.md).
    idFrom: { header: 'X-Session-Token', cookie: true },
    metrics: { registry },
    // A warm page view costs no Redis round trip; Redis's invalidations keep the replicas coherent.
    nearCache: true,
    // Every replica hears every replica's session events: the page's live list is the same whichever answers.
    events: { crossReplica: true, replica: env.REPLICA_ID },
    // A session's ID changes every 15 min (the old one works 1 min more): a stolen cookie or token does not last.
    renewal: true,
    ...(env.SESSION_IDLE_TIMEOUT_MS === undefined ? {} : { idleTimeout: env.SESSION_IDLE_TIMEOUT_MS }),
    // The live channel's handshake: the shop's own origin, and these.
    sockets: { allowedOrigins: env.ALLOWED_ORIGINS ?? [] },
  };
}

/** The option each variable sets above, for the boot errors of SessionModule. */
const VARIABLE_OF_OPTION: Record<string, string> = {
  secret: 'SESSION_SECRET',
  'encryption.keys': 'SESSION_ENCRYPTION_KEYS',
  redis: 'REDIS_URL',
  'redis.sentinels': 'REDIS_SENTINELS',
  'redis.name': 'REDIS_SENTINEL_NAME',
  'redis.cluster': 'REDIS_CLUSTER',
  'events.replica': 'REPLICA_ID',
  idleTimeout: 'SESSION_IDLE_TIMEOUT_MS',
  'sockets.allowedOrigins': 'ALLOWED_ORIGINS',
};

/**
 * SessionModule's boot error for an option the environment set, with the variable's name in front
 * (`secret[1]` is the second entry of SESSION_SECRET); any other error as it is.
 */
export function withVariableName(error: unknown): unknown {
  if (!(error instanceof SessionConfigError)) return error;
  const variable = VARIABLE_OF_OPTION[error.option.replace(/\[\d+\]$/, '')];
  return variable === undefined ? error : new Error(`${variable} is invalid: ${error.message}`, { cause: error });
}

/** The Redis the environment names: REDIS_CLUSTER, REDIS_SENTINELS or REDIS_URL (the environment allows one). */
function redisOption(env: ShopEnvironment): SessionRedisOption {
  if (env.REDIS_CLUSTER) return { cluster: env.REDIS_CLUSTER.map(address) };
  if (env.REDIS_SENTINELS) return { sentinels: env.REDIS_SENTINELS.map(address), name: env.REDIS_SENTINEL_NAME! };
  return env.REDIS_URL ?? DEFAULT_REDIS_URL;
}

/** An entry `validateShopEnvironment` accepted. */
function address(entry: string): RedisAddress {
  return hostAndPort(entry)!;
}

/** A fixed value in place of an unset variable, with a warning: production refuses to start without it. */
function developmentOnly(variable: string, value: string, what: string): string[] {
  new Logger('ShopEnvironment').warn(`${variable} is not set: using ${what}. Set it in production.`);
  return [value];
}
