import { SessionConfigError } from '../errors/session-config.error';
import { nonEmptyString, oneOf, optionalBoolean, optionalCount, optionalDuration, optionalObject, received } from './option-checks';
import { resolveEncryptionOption } from './resolve-encryption-option';
import type { ResolvedCookie, ResolvedStorageOptions } from './resolved-storage-options';
import type { SessionStorageOptions } from './storage-options.interface';
import { SESSION_DEFAULTS, defaultTouchAfter } from './session-defaults';

/** The options `SessionModule` and `RedisSessionStore` share (`SessionStorageOptions`). */
export const STORAGE_OPTIONS = [
  'prefix',
  'cookie',
  'idleTimeout',
  'absoluteTimeout',
  'touchAfter',
  'redisDeadline',
  'durability',
  'encryption',
  'maxSessionBytes',
  'hashMaxListpackValue',
];

const COOKIE_OPTIONS = ['name', 'httpOnly', 'sameSite', 'secure', 'path', 'domain', 'persistent'] as const;

/**
 * Checks the options `SessionModule` and `RedisSessionStore` share and fills in their defaults: one
 * resolver, so both read the same names with the same defaults and the same boot errors.
 */
export function resolveStorageOptions(options: SessionStorageOptions): ResolvedStorageOptions {
  const idleTimeout = optionalDuration('idleTimeout', options.idleTimeout) ?? SESSION_DEFAULTS.idleTimeout;
  const absoluteTimeout =
    options.absoluteTimeout === false ? 0 : (optionalDuration('absoluteTimeout', options.absoluteTimeout) ?? SESSION_DEFAULTS.absoluteTimeout);
  if (absoluteTimeout > 0 && absoluteTimeout < idleTimeout) {
    throw new SessionConfigError('absoluteTimeout', `(${absoluteTimeout} ms) must not be shorter than "idleTimeout" (${idleTimeout} ms)`);
  }
  const redisDeadline = resolveRedisDeadline(options.redisDeadline);
  return {
    prefix: resolvePrefix(options.prefix),
    cookie: resolveCookie(options.cookie, idleTimeout),
    idleTimeout,
    absoluteTimeout,
    touchAfter: resolveTouchAfter(options.touchAfter, idleTimeout),
    redisDeadline,
    durability: resolveDurability(options.durability, redisDeadline),
    encryption: resolveEncryptionOption(options.encryption),
    maxSessionBytes: optionalCount('maxSessionBytes', options.maxSessionBytes, 1) ?? SESSION_DEFAULTS.maxSessionBytes,
    hashMaxListpackValue: resolveHashMaxListpackValue(options.hashMaxListpackValue),
  };
}

/**
 * `hashMaxListpackValue`: 0 (every value whole), or a piece size of at least MIN_PIECE_BYTES, so a
 * head holds a few bytes of its value beside its mark and count.
 */
function resolveHashMaxListpackValue(value: unknown): number {
  if (value === undefined) return SESSION_DEFAULTS.hashMaxListpackValue;
  if (value === 0) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < MIN_PIECE_BYTES) {
    throw new SessionConfigError(
      'hashMaxListpackValue',
      `must be your Redis server's hash-max-listpack-value, a whole number of bytes of at least ${MIN_PIECE_BYTES} (or 0 to store every value whole); got ${received(value)}`,
    );
  }
  return value;
}

const MIN_PIECE_BYTES = 16;

function resolveCookie(option: unknown, idleTimeout: number): ResolvedCookie {
  const cookie = optionalObject('cookie', option, COOKIE_OPTIONS) ?? {};
  const defaults = SESSION_DEFAULTS.cookie;
  const persistent = optionalBoolean('cookie.persistent', cookie.persistent) ?? defaults.persistent;
  return {
    name:
      matching('cookie.name', nonEmptyString('cookie.name', cookie.name), COOKIE_NAME, "a cookie name: letters, digits and !#$%&'*+-.^_`|~ only") ??
      defaults.name,
    httpOnly: optionalBoolean('cookie.httpOnly', cookie.httpOnly) ?? defaults.httpOnly,
    sameSite: oneOf('cookie.sameSite', cookie.sameSite, [true, false, 'lax', 'strict', 'none'] as const) ?? defaults.sameSite,
    secure: oneOf('cookie.secure', cookie.secure, [true, false, 'auto'] as const) ?? defaults.secure,
    path: resolvePath(cookie.path),
    domain: matching('cookie.domain', nonEmptyString('cookie.domain', cookie.domain), COOKIE_DOMAIN, 'a domain name such as "example.com"'),
    maxAge: persistent ? idleTimeout : undefined,
  };
}

/** The longest delay Node's timers hold. */
const LONGEST_TIMER_MS = 2_147_483_647;

/** `touchAfter`: from 0 to below the idle timeout; unset, a tenth of it, at most a minute. */
function resolveTouchAfter(value: unknown, idleTimeout: number): number {
  if (value === undefined) return defaultTouchAfter(idleTimeout);
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value >= idleTimeout) {
    throw new SessionConfigError('touchAfter', `must be a number of milliseconds from 0 to below "idleTimeout" (${idleTimeout} ms); got ${received(value)}`);
  }
  return value;
}

/**
 * `redisDeadline`: a whole number of ms, 0 for none. Timers hold it (ioredis' `commandTimeout`, the
 * gateway's deadlines), and Node fires a timer longer than 2^31 - 1 ms after 1 ms instead.
 */
function resolveRedisDeadline(value: unknown): number {
  if (value === undefined) return SESSION_DEFAULTS.redisDeadline;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > LONGEST_TIMER_MS) {
    throw new SessionConfigError(
      'redisDeadline',
      `must be a whole number of milliseconds up to ${LONGEST_TIMER_MS} (about 24.8 days; 0 for no deadline); got ${received(value)}`,
    );
  }
  return value;
}

/** `durability`: off when unset; replicas ≥ 1, and a WAIT timeout that ends before the call's deadline. */
function resolveDurability(option: unknown, redisDeadline: number): { replicas: number; timeout: number } | undefined {
  const durability = optionalObject('durability', option, ['replicas', 'timeout']);
  if (!durability) return undefined;
  const { replicas, timeout } = durability;
  if (!(Number.isInteger(replicas) && (replicas as number) >= 1)) {
    throw new SessionConfigError('durability.replicas', `must be a whole number of at least 1; got ${received(replicas)}`);
  }
  const limit = redisDeadline > 0 ? redisDeadline - 1 : Number.MAX_SAFE_INTEGER;
  if (!(Number.isInteger(timeout) && (timeout as number) >= 1 && (timeout as number) <= limit)) {
    throw new SessionConfigError('durability.timeout', `must be a whole number of ms from 1 to ${limit} (below "redisDeadline"); got ${received(timeout)}`);
  }
  return { replicas: replicas as number, timeout: timeout as number };
}

function resolvePrefix(prefix: unknown): string {
  if (prefix === undefined) return SESSION_DEFAULTS.prefix;
  if (typeof prefix !== 'string' || prefix.length === 0 || /\s/.test(prefix)) {
    throw new SessionConfigError('prefix', 'must be a non-empty string without white space');
  }
  return prefix;
}

function resolvePath(path: unknown): string {
  if (path === undefined) return SESSION_DEFAULTS.cookie.path;
  if (typeof path !== 'string' || !path.startsWith('/') || !COOKIE_PATH.test(path)) {
    throw new SessionConfigError('cookie.path', `must be a string that starts with "/", of printable ASCII characters other than ";"; got ${received(path)}`);
  }
  return path;
}

/*
 * The rules of the \`cookie\` module that serializes the Set-Cookie header (RFC 6265): a value it would
 * refuse must stop the app at boot, not answer every request that sets the cookie with a 500.
 */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const COOKIE_DOMAIN = /^([.]?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)([.][a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const COOKIE_PATH = /^[\u0020-\u003A\u003D-\u007E]*$/;

function matching(name: string, value: string | undefined, rule: RegExp, what: string): string | undefined {
  if (value !== undefined && !rule.test(value)) throw new SessionConfigError(name, `must be ${what}; got ${received(value)}`);
  return value;
}
