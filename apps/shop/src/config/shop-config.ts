import { hostname } from 'node:os';

/** The shop's settings, read once from the environment at boot. */
export interface ShopConfig {
  /** HTTP port. @default 3000 */
  port: number;
  /** `redis://` or `rediss://` URL of the Redis that holds the sessions. @default 'redis://127.0.0.1:6379' */
  redisUrl: string;
  /** Cookie signing secrets, newest first: the first signs, every one verifies (rotation). */
  sessionSecrets: string[];
  /** True when no SESSION_SECRET was given and the fixed development secret is in use. */
  usesDevSecret: boolean;
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
  return {
    port,
    redisUrl: parseRedisUrl(env.REDIS_URL),
    sessionSecrets: secrets ?? [DEV_SECRET],
    usesDevSecret: !secrets,
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

function nonBlank(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
