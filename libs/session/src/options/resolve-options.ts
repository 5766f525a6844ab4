import { SessionConfigError } from '../errors/session-config.error';
import { CSRF_HEADER } from '../session.constants';
import type { ResolvedSessionOptions } from './resolved-options';
import type { SessionModuleOptions } from './session-options.interface';
import { validateRedisOption } from './validate-redis-option';
import { resolveMetricsOption } from './resolve-metrics-option';
import { resolveEncryptionOption } from './resolve-encryption-option';
import { resolveEventsOption } from './resolve-events-option';
import { defaultSessionUserId } from '../users/user-id';
import { resolveTouchAfter } from '../store/idle-slide';

const MIN_SECRET_LENGTH = 32;

/** Every default in one place, with its unit. */
export const SESSION_DEFAULTS = {
  prefix: 'sess:',
  cookieName: 'sid',
  idFrom: 'cookie',
  header: 'X-Session-Token',
  idleTimeout: 30 * 60_000, // 30 min
  absoluteTimeout: 12 * 60 * 60_000, // 12 h
  commandTimeout: 1_000, // 1 s
  maxSessionBytes: 64 * 1024, // 64 KiB
  updateRetries: 20,
  nearCache: {
    maxEntries: 10_000,
    maxBytes: 32 * 1024 * 1024, // 32 MiB
    maxAge: 60_000, // 1 min
  },
  renewalInterval: 15 * 60_000, // 15 min
  renewalGrace: 60_000, // 1 min
} as const;

/**
 * Validates the options at boot and fills in the defaults. Every error names the option at fault, so
 * a typo fails the deployment instead of the first request.
 */
export function resolveSessionOptions(options: SessionModuleOptions): ResolvedSessionOptions {
  if (options === null || typeof options !== 'object') {
    throw new SessionConfigError('options', 'must be an object with at least "secret" and "redis"');
  }
  const cookie = options.cookie ?? {};
  const maxAge = optionalDuration('cookie.maxAge', cookie.maxAge);
  if (maxAge !== undefined && options.idleTimeout !== undefined && options.idleTimeout !== maxAge) {
    throw new SessionConfigError(
      'cookie.maxAge',
      `(${maxAge} ms) must equal "idleTimeout" (${options.idleTimeout} ms) when both are set: a persistent cookie's lifetime is the idle timeout`,
    );
  }
  const idleTimeout = optionalDuration('idleTimeout', options.idleTimeout) ?? maxAge ?? SESSION_DEFAULTS.idleTimeout;
  const absoluteTimeout =
    options.absoluteTimeout === false ? 0 : (optionalDuration('absoluteTimeout', options.absoluteTimeout) ?? SESSION_DEFAULTS.absoluteTimeout);
  if (absoluteTimeout > 0 && absoluteTimeout < idleTimeout) {
    throw new SessionConfigError('absoluteTimeout', `(${absoluteTimeout} ms) must not be shorter than "idleTimeout" (${idleTimeout} ms)`);
  }
  const maxSessions = options.maxSessionsPerUser === undefined ? Infinity : options.maxSessionsPerUser;
  if (maxSessions !== Infinity && !(Number.isInteger(maxSessions) && maxSessions >= 1)) {
    throw new SessionConfigError('maxSessionsPerUser', `must be a whole number of at least 1, or Infinity; got ${String(maxSessions)}`);
  }
  return {
    secrets: resolveSecrets(options.secret),
    redis: validateRedisOption(options.redis),
    prefix: resolvePrefix(options.prefix),
    cookie: {
      name: nonEmptyString('cookie.name', cookie.name) ?? SESSION_DEFAULTS.cookieName,
      httpOnly: optionalBoolean('cookie.httpOnly', cookie.httpOnly) ?? true,
      sameSite: oneOf('cookie.sameSite', cookie.sameSite, [true, false, 'lax', 'strict', 'none']) ?? 'lax',
      secure: oneOf('cookie.secure', cookie.secure, [true, false, 'auto']) ?? 'auto',
      path: resolvePath(cookie.path),
      domain: nonEmptyString('cookie.domain', cookie.domain),
      maxAge,
    },
    ...resolveIdTransport(options.idFrom, options.header),
    idleTimeout,
    absoluteTimeout,
    maxSessionsPerUser: maxSessions === Infinity ? 0 : maxSessions,
    userId: optionalFunction('userId', options.userId) ?? defaultSessionUserId,
    onLimit: oneOf('onLimit', options.onLimit, ['evict-oldest', 'reject']) ?? 'evict-oldest',
    touchAfter: resolveTouchAfter(options, idleTimeout, 'idleTimeout'), // default: idleTimeout / 10, at most 1 min
    commandTimeout: optionalDuration('commandTimeout', options.commandTimeout) ?? SESSION_DEFAULTS.commandTimeout,
    durability: resolveDurability(options.durability, optionalDuration('commandTimeout', options.commandTimeout) ?? SESSION_DEFAULTS.commandTimeout),
    encryption: resolveEncryptionOption(options.encryption),
    maxSessionBytes: optionalCount('maxSessionBytes', options.maxSessionBytes, 1) ?? SESSION_DEFAULTS.maxSessionBytes,
    updateRetries: optionalCount('updateRetries', options.updateRetries, 0) ?? SESSION_DEFAULTS.updateRetries,
    renewal: resolveRenewal(options.renewal),
    trustProxy: optionalBoolean('trustProxy', options.trustProxy),
    forRoutes: optionalRoutes('forRoutes', options.forRoutes),
    exclude: optionalRoutes('exclude', options.exclude) ?? [],
    metrics: resolveMetricsOption(options.metrics),
    tracing: optionalBoolean('tracing', options.tracing),
    nearCache: resolveNearCache(options.nearCache),
    events: resolveEventsOption(options.events),
  };
}

/** `nearCache`: off when unset or false; `true` or an object of bounds, each a positive whole number. */
function resolveNearCache(option: unknown): ResolvedSessionOptions['nearCache'] {
  if (option === undefined || option === false) return undefined;
  if (option === true) return { ...SESSION_DEFAULTS.nearCache };
  if (option === null || typeof option !== 'object' || Array.isArray(option)) {
    throw new SessionConfigError('nearCache', `must be true, false or an object { maxEntries, maxBytes, maxAge }; got ${received(option)}`);
  }
  const { maxEntries, maxBytes, maxAge, ...unknown } = option as Record<string, unknown>;
  const stray = Object.keys(unknown)[0];
  if (stray !== undefined) throw new SessionConfigError(`nearCache.${stray}`, 'is not an option of the near cache (maxEntries, maxBytes, maxAge)');
  return {
    maxEntries: optionalCount('nearCache.maxEntries', maxEntries, 1) ?? SESSION_DEFAULTS.nearCache.maxEntries,
    maxBytes: optionalCount('nearCache.maxBytes', maxBytes, 1024) ?? SESSION_DEFAULTS.nearCache.maxBytes,
    maxAge: optionalDuration('nearCache.maxAge', maxAge) ?? SESSION_DEFAULTS.nearCache.maxAge,
  };
}

/** `durability`: off when unset; replicas ≥ 1, and a WAIT timeout that ends before the call's deadline. */
function resolveDurability(option: unknown, commandTimeout: number): { replicas: number; timeout: number } | undefined {
  if (option === undefined) return undefined;
  if (option === null || typeof option !== 'object') {
    throw new SessionConfigError('durability', `must be an object { replicas, timeout }; got ${received(option)}`);
  }
  const { replicas, timeout } = option as { replicas?: unknown; timeout?: unknown };
  if (!(Number.isInteger(replicas) && (replicas as number) >= 1)) {
    throw new SessionConfigError('durability.replicas', `must be a whole number of at least 1; got ${received(replicas)}`);
  }
  const limit = commandTimeout > 0 ? commandTimeout - 1 : Number.MAX_SAFE_INTEGER;
  if (!(Number.isInteger(timeout) && (timeout as number) >= 1 && (timeout as number) <= limit)) {
    throw new SessionConfigError('durability.timeout', `must be a whole number of ms from 1 to ${limit} (below "commandTimeout"); got ${received(timeout)}`);
  }
  return { replicas: replicas as number, timeout: timeout as number };
}

/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Headers that already mean something to browsers or to this library: the ID cannot travel in them. */
const TAKEN_HEADERS = new Set(['cookie', 'set-cookie', 'authorization', CSRF_HEADER]);

/** `idFrom` and `header`: a header named alone would do nothing, so it asks for `idFrom` too. */
function resolveIdTransport(idFrom: unknown, header: unknown): Pick<ResolvedSessionOptions, 'idFrom' | 'header'> {
  const source = oneOf('idFrom', idFrom, ['cookie', 'header', 'both'] as const) ?? SESSION_DEFAULTS.idFrom;
  if (header === undefined) return { idFrom: source, header: SESSION_DEFAULTS.header };
  if (typeof header !== 'string' || !HEADER_NAME.test(header)) {
    throw new SessionConfigError(
      'header',
      `must be an HTTP header name (letters, digits and !#$%&'*+-.^_\`|~ only); got ${typeof header === 'string' ? JSON.stringify(header) : received(header)}`,
    );
  }
  if (TAKEN_HEADERS.has(header.toLowerCase())) {
    throw new SessionConfigError('header', `must not be "${header}": that header already carries something else`);
  }
  if (source === 'cookie') {
    throw new SessionConfigError('header', `is set but "idFrom" is 'cookie', so no header is read: set "idFrom" to 'header' or 'both', or remove "header"`);
  }
  return { idFrom: source, header };
}

/** `renewal`: off when unset or false; `true` takes the defaults; grace at most half the interval. */
function resolveRenewal(option: unknown): { interval: number; grace: number } | undefined {
  if (option === undefined || option === false) return undefined;
  if (option !== true && (option === null || typeof option !== 'object' || Array.isArray(option))) {
    throw new SessionConfigError('renewal', `must be true, false or an object { interval, grace }; got ${received(option)}`);
  }
  const { interval: givenInterval, grace: givenGrace } = option === true ? {} : (option as { interval?: unknown; grace?: unknown });
  const interval = optionalDuration('renewal.interval', givenInterval) ?? SESSION_DEFAULTS.renewalInterval;
  const grace = optionalDuration('renewal.grace', givenGrace) ?? Math.min(SESSION_DEFAULTS.renewalGrace, Math.floor(interval / 2));
  if (grace > interval / 2) {
    throw new SessionConfigError(
      'renewal.grace',
      `(${grace} ms) must be at most half of "renewal.interval" (${interval} ms): an old ID must die well before its successor is renewed in turn`,
    );
  }
  return { interval, grace };
}

function resolveSecrets(secret: unknown): string[] {
  const secrets = Array.isArray(secret) ? secret : [secret];
  if (secret === undefined || secrets.length === 0) {
    throw new SessionConfigError('secret', 'is required: a string of at least 32 characters, or an array of them (newest first)');
  }
  secrets.forEach((value, index) => {
    const name = Array.isArray(secret) ? `secret[${index}]` : 'secret';
    if (typeof value !== 'string' || value.length < MIN_SECRET_LENGTH) {
      throw new SessionConfigError(name, `must be a string of at least ${MIN_SECRET_LENGTH} characters`);
    }
  });
  return secrets as string[];
}

function resolvePrefix(prefix: unknown): string {
  if (prefix === undefined) return SESSION_DEFAULTS.prefix;
  if (typeof prefix !== 'string' || prefix.length === 0 || /\s/.test(prefix)) {
    throw new SessionConfigError('prefix', 'must be a non-empty string without white space');
  }
  return prefix;
}

function resolvePath(path: unknown): string {
  if (path === undefined) return '/';
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new SessionConfigError('cookie.path', 'must be a string that starts with "/"');
  }
  return path;
}

function optionalDuration(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new SessionConfigError(name, `must be a positive whole number of milliseconds; got ${received(value)}`);
  }
  return value;
}

function optionalCount(name: string, value: unknown, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new SessionConfigError(name, `must be a whole number of at least ${min}; got ${received(value)}`);
  }
  return value;
}

function optionalBoolean(name: string, value: unknown): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  throw new SessionConfigError(name, `must be true or false; got ${received(value)}`);
}

function optionalFunction<T>(name: string, value: T | undefined): T | undefined {
  if (value === undefined || typeof value === 'function') return value;
  throw new SessionConfigError(name, `must be a function (session) => string | number | undefined; got ${typeof value}`);
}

function nonEmptyString(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0) {
    throw new SessionConfigError(name, 'must be a non-empty string');
  }
  return value;
}

function oneOf<T>(name: string, value: unknown, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!allowed.includes(value as T)) {
    throw new SessionConfigError(name, `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}; got ${JSON.stringify(value)}`);
  }
  return value as T;
}

function optionalRoutes<T>(name: string, value: T[] | undefined): T[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw new SessionConfigError(name, 'must be an array of paths or RouteInfo objects');
  return value;
}

/**
 * A received option value for a message: primitives as String() writes them; an object or a function
 * by its kind, where String() would print "[object Object]" or a function's whole source.
 */
function received(value: unknown): string {
  switch (typeof value) {
    case 'object':
      return value === null ? 'null' : Array.isArray(value) ? 'an array' : 'an object';
    case 'function':
      return 'a function';
    case 'string':
      return value;
    case 'symbol':
      return value.toString();
    default:
      return String(value);
  }
}
