import { hostname } from 'node:os';

/** A server's address, as given in REDIS_SENTINELS and REDIS_CLUSTER. */
export interface RedisAddress {
  host: string;
  port: number;
}

/**
 * Where the sessions live: one server by URL (`REDIS_URL`), a Sentinel-watched master
 * (`REDIS_SENTINELS` + `REDIS_SENTINEL_NAME`) or a Cluster (`REDIS_CLUSTER`).
 */
export type ShopRedis =
  { kind: 'url'; url: string } | { kind: 'sentinel'; sentinels: RedisAddress[]; name: string } | { kind: 'cluster'; nodes: RedisAddress[] };

/** The shop's settings, read once from the environment at boot. */
export interface ShopConfig {
  /** HTTP port. @default 3000 */
  port: number;
  /** The Redis that holds the sessions. @default { kind: 'url', url: 'redis://127.0.0.1:6379' } */
  redis: ShopRedis;
  /** Cookie signing secrets, newest first: the first signs, every one verifies (rotation). */
  sessionSecrets: string[];
  /** True when no SESSION_SECRET was given and the fixed development secret is in use. */
  usesDevSecret: boolean;
  /** Keys that seal session data at rest, base64, newest first: the first seals, every one opens. */
  sessionEncryptionKeys: string[];
  /** True when no SESSION_ENCRYPTION_KEYS was given and the fixed development key is in use. */
  usesDevEncryptionKey: boolean;
  /** Name of this replica, sent in `X-Replica`. @default `<hostname>:<port>` */
  replicaId: string;
  /** When set, `GET /metrics` requires `Authorization: Bearer <token>`. @default undefined (open) */
  metricsToken?: string;
}

/** Namespace under which `ConfigService` holds the shop's settings. */
export const SHOP_CONFIG = 'shop';

const DEFAULT_PORT = 3000;
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
const MIN_SECRET_LENGTH = 32; // what the session library demands; checked here too so the message names the variable
// Public on purpose: any development machine may use it, and NODE_ENV=production refuses to start with it.
const DEV_SECRET = 'shop-development-secret-do-not-use-in-production';
const MIN_ENCRYPTION_KEY_BYTES = 32; // AES-256; the session library checks it too, this names the variable
// Public on purpose, like DEV_SECRET: 32 bytes anyone may read, refused in production.
const DEV_ENCRYPTION_KEY = Buffer.from('shop-development-key-not-secret!').toString('base64');

/**
 * Reads and checks the environment. Every problem throws at boot with the variable's name, so a typo
 * stops the deployment instead of failing the first request.
 */
export function loadShopConfig(env: NodeJS.ProcessEnv): ShopConfig {
  const port = parsePort(env.PORT);
  const secrets = parseSecrets(env.SESSION_SECRET);
  if (!secrets && env.NODE_ENV === 'production') {
    throw new Error('SESSION_SECRET is required when NODE_ENV=production: set it to a random string of at least 32 characters');
  }
  const encryptionKeys = parseEncryptionKeys(env.SESSION_ENCRYPTION_KEYS);
  if (!encryptionKeys && env.NODE_ENV === 'production') {
    throw new Error(
      'SESSION_ENCRYPTION_KEYS is required when NODE_ENV=production: set it to one or more keys of 32 random bytes in base64 (`openssl rand -base64 32`), comma-separated, newest first',
    );
  }
  return {
    port,
    redis: parseRedis(env),
    sessionSecrets: secrets ?? [DEV_SECRET],
    usesDevSecret: !secrets,
    sessionEncryptionKeys: encryptionKeys ?? [DEV_ENCRYPTION_KEY],
    usesDevEncryptionKey: !encryptionKeys,
    replicaId: nonBlank(env.REPLICA_ID) ?? `${hostname()}:${port}`,
    metricsToken: nonBlank(env.METRICS_TOKEN),
  };
}

function parsePort(raw: string | undefined): number {
  if (nonBlank(raw) === undefined) return DEFAULT_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(`PORT must be a whole number from 0 to 65535; got "${raw}"`);
  }
  return port;
}

/**
 * One of REDIS_URL, REDIS_SENTINELS (with REDIS_SENTINEL_NAME) and REDIS_CLUSTER; more than one is
 * refused rather than one silently winning, since each names a different place for the sessions.
 */
function parseRedis(env: NodeJS.ProcessEnv): ShopRedis {
  const given = (['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER'] as const).filter((name) => nonBlank(env[name]) !== undefined);
  if (given.length > 1) {
    throw new Error(
      `${given.join(' and ')} are ${given.length === 2 ? 'both' : 'all'} set: set only one of REDIS_URL, REDIS_SENTINELS (with REDIS_SENTINEL_NAME) or REDIS_CLUSTER`,
    );
  }
  const name = nonBlank(env.REDIS_SENTINEL_NAME);
  if (given[0] === 'REDIS_SENTINELS') {
    if (name === undefined) throw new Error('REDIS_SENTINEL_NAME is required with REDIS_SENTINELS: set it to the name of the master the sentinels watch');
    return { kind: 'sentinel', sentinels: parseAddresses('REDIS_SENTINELS', env.REDIS_SENTINELS!), name };
  }
  if (name !== undefined) throw new Error('REDIS_SENTINEL_NAME is set without REDIS_SENTINELS: set both, or neither');
  if (given[0] === 'REDIS_CLUSTER') return { kind: 'cluster', nodes: parseAddresses('REDIS_CLUSTER', env.REDIS_CLUSTER!) };
  return { kind: 'url', url: parseRedisUrl(env.REDIS_URL) };
}

/** A comma-separated `host:port` list; an IPv6 host goes in brackets (`[::1]:26379`). */
function parseAddresses(variable: string, raw: string): RedisAddress[] {
  return raw.split(',').map((entry, index, all) => {
    const text = entry.trim();
    const match = /^(\[[^\]]+\]|[^:\s]+):(\d+)$/.exec(text);
    const port = match ? Number(match[2]) : NaN;
    if (!match || port < 1 || port > 65_535) {
      throw new Error(`${variable}: entry ${index + 1} of ${all.length} must be host:port with a port from 1 to 65535; got "${text}"`);
    }
    return { host: match[1].replace(/^\[(.*)\]$/, '$1'), port };
  });
}

function parseRedisUrl(raw: string | undefined): string {
  const url = nonBlank(raw) ?? DEFAULT_REDIS_URL;
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new Error(`REDIS_URL must be a redis:// or rediss:// URL; got "${url}"`);
  }
  if (protocol !== 'redis:' && protocol !== 'rediss:') {
    throw new Error(`REDIS_URL must use redis:// or rediss://; got "${protocol}//"`);
  }
  return url;
}

/** Several secrets, comma-separated, newest first; undefined when none is set. */
function parseSecrets(raw: string | undefined): string[] | undefined {
  if (nonBlank(raw) === undefined) return undefined;
  const secrets = raw!.split(',').map((secret) => secret.trim());
  secrets.forEach((secret, index) => {
    if (secret.length < MIN_SECRET_LENGTH) {
      throw new Error(
        `SESSION_SECRET: secret number ${index + 1} of ${secrets.length} has ${secret.length} characters; each needs at least ${MIN_SECRET_LENGTH}`,
      );
    }
  });
  return secrets;
}

/** Encryption keys, base64, comma-separated, newest first; undefined when none is set. */
function parseEncryptionKeys(raw: string | undefined): string[] | undefined {
  if (nonBlank(raw) === undefined) return undefined;
  const keys = raw!.split(',').map((key) => key.trim());
  keys.forEach((key, index) => {
    const bytes = /^[A-Za-z0-9+/]*={0,2}$/.test(key) ? Buffer.from(key, 'base64').length : -1;
    if (bytes < MIN_ENCRYPTION_KEY_BYTES) {
      const problem = bytes < 0 ? 'is not base64' : `holds ${bytes} bytes`;
      throw new Error(
        `SESSION_ENCRYPTION_KEYS: key number ${index + 1} of ${keys.length} ${problem}; each must be at least ${MIN_ENCRYPTION_KEY_BYTES} random bytes in base64 (\`openssl rand -base64 32\`)`,
      );
    }
  });
  return keys;
}

function nonBlank(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
