import { hostname } from 'node:os';
import { plainToInstance, Transform } from 'class-transformer';
import { IsDefined, IsIn, IsInt, IsOptional, IsString, Max, Min, ValidateBy, ValidateIf, validateSync } from 'class-validator';

/** A server's address, as an entry of REDIS_SENTINELS and REDIS_CLUSTER gives it. */
export interface RedisAddress {
  host: string;
  port: number;
}

/**
 * The shop's environment variables (docs/shop-api.md, "Running it"), typed and checked at boot.
 * Only the shop's own rules live here. What a secret, an encryption key or a Redis URL must be is
 * SessionModule's to check, and it checks at boot, naming the option (`withVariableName` adds the
 * variable): repeating those checks here would only let the two drift apart.
 */
export class ShopEnvironment {
  /** Nest's HTTP platform: the same contract on either, and replicas on both serve the same sessions. */
  @IsIn(['express', 'fastify'], { message: ({ value }) => `HTTP_PLATFORM must be express or fastify; got "${String(value)}"` })
  HTTP_PLATFORM: 'express' | 'fastify' = 'express';

  /** HTTP port. */
  @Max(65_535, { message: portRule })
  @Min(0, { message: portRule })
  @IsInt({ message: portRule })
  @Transform(({ value }: { value: string }) => (/^\d+$/.test(value) ? Number(value) : value))
  PORT = 3000;

  /** The Redis of the sessions, by URL; unset, `sessionOptions` uses redis://127.0.0.1:6379. */
  @IsOptional()
  @IsString()
  REDIS_URL?: string;

  /** Sentinel instead of REDIS_URL: the sentinels, with the master's name in REDIS_SENTINEL_NAME. */
  @IsHostPortList('REDIS_SENTINELS')
  @IsOptional()
  @CommaSeparated()
  REDIS_SENTINELS?: string[];

  /** The name of the master the sentinels watch; required with REDIS_SENTINELS, refused without. */
  @IsOptional()
  @IsString()
  REDIS_SENTINEL_NAME?: string;

  /** Cluster instead of REDIS_URL: seed nodes. */
  @IsHostPortList('REDIS_CLUSTER')
  @IsOptional()
  @CommaSeparated()
  REDIS_CLUSTER?: string[];

  /** Cookie signing secrets, newest first: the first signs, every one verifies (rotation). */
  @IsDefined({ message: 'SESSION_SECRET is required when NODE_ENV=production: set it to a random string of at least 32 characters' })
  @ValidateIf(inProduction)
  @CommaSeparated()
  SESSION_SECRET?: string[];

  /** Keys that seal session data at rest, base64, newest first: the first seals, every one opens. */
  @IsDefined({
    message:
      'SESSION_ENCRYPTION_KEYS is required when NODE_ENV=production: set it to one or more keys of 32 random bytes in base64 (`openssl rand -base64 32`), comma-separated, newest first',
  })
  @ValidateIf(inProduction)
  @CommaSeparated()
  SESSION_ENCRYPTION_KEYS?: string[];

  /** This replica's name, sent in `X-Replica`; `<hostname>:<PORT>` when unset. */
  @IsOptional()
  @IsString()
  REPLICA_ID: string;

  /** The sessions' idle timeout, ms; unset, the library's default (30 min). SessionModule checks its range. */
  @IsOptional()
  @IsInt({ message: ({ value }) => `SESSION_IDLE_TIMEOUT_MS must be a whole number of ms; got "${String(value)}"` })
  @Transform(({ value }: { value: string }) => (/^\d+$/.test(value) ? Number(value) : value))
  SESSION_IDLE_TIMEOUT_MS?: number;

  /** Origins (`https://shop.example`) allowed to open the live channel besides the shop's own; SessionModule checks each. */
  @IsOptional()
  @CommaSeparated()
  ALLOWED_ORIGINS?: string[];

  /** When set, `GET /metrics` requires `Authorization: Bearer <METRICS_TOKEN>`. */
  @IsOptional()
  @IsString()
  METRICS_TOKEN?: string;

  /** `production` requires SESSION_SECRET and SESSION_ENCRYPTION_KEYS (no development values). */
  @IsOptional()
  @IsString()
  NODE_ENV?: string;
}

/**
 * Reads and checks the shop's variables among `variables` (process.env, or a test's own set); the
 * others are left out. Every problem is listed in one error at boot, each naming its variable, so a
 * typo stops the deployment instead of failing the first request. A blank variable counts as unset,
 * as deployment templates write "not set". Its signature fits `ConfigModule.forRoot({ validate })` too.
 */
export function validateShopEnvironment(variables: Record<string, unknown>): ShopEnvironment {
  const given = Object.entries(variables).flatMap(([name, value]) => (typeof value === 'string' && value.trim() !== '' ? [[name, value.trim()]] : []));
  const env = plainToInstance(ShopEnvironment, Object.fromEntries(given));
  const problems = validateSync(env, { whitelist: true, stopAtFirstError: true }).flatMap((error) => Object.values(error.constraints ?? {}));
  problems.push(...redisChoiceProblems(env));
  if (problems.length > 0) throw new Error(`Invalid environment: ${problems.join('; ')}`);
  env.REPLICA_ID ??= `${hostname()}:${env.PORT}`;
  return env;
}

/** `host:port` as an address, undefined when it is not one; an IPv6 host goes in brackets (`[::1]:26379`). */
export function hostAndPort(entry: string): RedisAddress | undefined {
  const match = /^(\[[^\]]+\]|[^:\s[\]]+):(\d{1,5})$/.exec(entry);
  const port = Number(match?.[2]);
  return match && port >= 1 && port <= 65_535 ? { host: match[1].replace(/^\[(.*)\]$/, '$1'), port } : undefined;
}

function portRule({ value }: { value: unknown }): string {
  return `PORT must be a whole number from 0 to 65535; got "${String(value)}"`;
}

function inProduction(env: ShopEnvironment): boolean {
  return env.NODE_ENV === 'production';
}

/** A comma-separated variable as its entries, each trimmed; an empty entry stays, to be refused where it matters. */
function CommaSeparated(): PropertyDecorator {
  return Transform(({ value }: { value: string }) => value.split(',').map((entry) => entry.trim()));
}

/** Every entry of a comma-separated list is `host:port`; the message names the first that is not. */
function IsHostPortList(variable: string): PropertyDecorator {
  return ValidateBy({
    name: 'isHostPortList',
    validator: {
      validate: (entries: string[]) => entries.every((entry) => hostAndPort(entry) !== undefined),
      defaultMessage: (args) => {
        const entries = args?.value as string[];
        const bad = entries.findIndex((entry) => hostAndPort(entry) === undefined);
        return `${variable}: entry ${bad + 1} of ${entries.length} must be host:port with a port from 1 to 65535; got "${entries[bad]}"`;
      },
    },
  });
}

/**
 * One of REDIS_URL, REDIS_SENTINELS (with REDIS_SENTINEL_NAME) and REDIS_CLUSTER: more than one is
 * refused rather than one silently winning, since each names a different place for the sessions.
 */
function redisChoiceProblems(env: ShopEnvironment): string[] {
  const given = (['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER'] as const).filter((name) => env[name] !== undefined);
  if (given.length > 1) {
    const both = given.length === 2 ? 'both' : 'all';
    return [`${given.join(' and ')} are ${both} set: set only one of REDIS_URL, REDIS_SENTINELS (with REDIS_SENTINEL_NAME) or REDIS_CLUSTER`];
  }
  if (env.REDIS_SENTINELS !== undefined && env.REDIS_SENTINEL_NAME === undefined) {
    return ['REDIS_SENTINEL_NAME is required with REDIS_SENTINELS: set it to the name of the master the sentinels watch'];
  }
  if (env.REDIS_SENTINELS === undefined && env.REDIS_SENTINEL_NAME !== undefined) {
    return ['REDIS_SENTINEL_NAME is set without REDIS_SENTINELS: set both, or neither'];
  }
  return [];
}
