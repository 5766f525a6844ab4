import { SessionConfigError } from '../errors/session-config.error';
import { CSRF_HEADER } from '../session.constants';
import { oneOf, optionalBoolean, optionalCount, optionalDuration, optionalObject, received } from './option-checks';
import { resolveEventsOption } from './resolve-events-option';
import { resolveMetricsOption } from './resolve-metrics-option';
import { STORAGE_OPTIONS, resolveStorageOptions } from './resolve-storage-options';
import type { ResolvedSessionOptions } from './resolved-options';
import { SESSION_DEFAULTS } from './session-defaults';
import type { SessionModuleOptions } from './session-options.interface';
import { validateRedisOption } from './validate-redis-option';

const MIN_SECRET_LENGTH = 32;

/** Every top-level option: anything else is a typo (or a name from before 1.0) and fails boot. */
const MODULE_OPTIONS = [
  ...['secret', 'redis', 'idFrom', 'users', 'updateRetries', 'renewal', 'trustProxy', 'forRoutes', 'exclude', 'metrics', 'tracing'],
  ...['nearCache', 'events', 'sockets', ...STORAGE_OPTIONS],
];

/**
 * Validates `SessionModule`'s options at boot and fills in the defaults. Every error names the option
 * at fault, so a typo fails the deployment instead of the first request.
 */
export function resolveSessionOptions(options: SessionModuleOptions): ResolvedSessionOptions {
  if (options === null || typeof options !== 'object') {
    throw new SessionConfigError('options', 'must be an object with at least "secret" and "redis"');
  }
  const stray = Object.keys(options).find((key) => !MODULE_OPTIONS.includes(key));
  if (stray !== undefined) throw new SessionConfigError(stray, `is not an option of SessionModule; the options are ${MODULE_OPTIONS.join(', ')}`);
  const storage = resolveStorageOptions(options);
  return {
    ...storage,
    secrets: resolveSecrets(options.secret),
    redis: validateRedisOption(options.redis),
    idFrom: resolveIdSource(options.idFrom),
    users: resolveUsers(options.users),
    updateRetries: optionalCount('updateRetries', options.updateRetries, 0) ?? SESSION_DEFAULTS.updateRetries,
    renewal: resolveRenewal(options.renewal),
    trustProxy: optionalBoolean('trustProxy', options.trustProxy),
    forRoutes: optionalRoutes('forRoutes', options.forRoutes),
    exclude: optionalRoutes('exclude', options.exclude) ?? [],
    metrics: resolveMetricsOption(options.metrics),
    tracing: optionalBoolean('tracing', options.tracing),
    nearCache: resolveNearCache(options.nearCache),
    events: resolveEventsOption(options.events),
    sockets: resolveSockets(options.sockets),
  };
}

/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/**
 * Headers that already mean something, so the ID cannot travel in them: to browsers and auth
 * (`Cookie`, `Set-Cookie`, `Authorization`), to this library (the CSRF token; `Origin` and the
 * `X-Forwarded-*` headers it reads under `trustProxy`), and to HTTP itself, which frames and routes a
 * message by them (the response's own `Content-Length` would overwrite the ID, and a session would be
 * lost without a word).
 */
const TAKEN_HEADERS = new Set([
  'cookie',
  'set-cookie',
  'authorization',
  CSRF_HEADER,
  'origin',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'host',
  'content-length',
  'content-type',
  'content-encoding',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'proxy-connection',
]);

/** `idFrom`: `'cookie'`, or `{ header, cookie }` for the header alone or beside the cookie. */
function resolveIdSource(option: unknown): ResolvedSessionOptions['idFrom'] {
  if (option === undefined || option === 'cookie') return { cookie: true };
  if (typeof option === 'string') {
    throw new SessionConfigError('idFrom', `must be 'cookie' or an object { header, cookie }; got ${JSON.stringify(option)}`);
  }
  const source = optionalObject('idFrom', option, ['header', 'cookie'])!;
  const header = source.header === undefined ? SESSION_DEFAULTS.header : source.header;
  if (typeof header !== 'string' || !HEADER_NAME.test(header)) {
    throw new SessionConfigError(
      'idFrom.header',
      `must be an HTTP header name (letters, digits and !#$%&'*+-.^_\`|~ only); got ${typeof header === 'string' ? JSON.stringify(header) : received(header)}`,
    );
  }
  if (TAKEN_HEADERS.has(header.toLowerCase())) {
    throw new SessionConfigError('idFrom.header', `must not be "${header}": that header already carries something else`);
  }
  return { header, cookie: optionalBoolean('idFrom.cookie', source.cookie) ?? false };
}

/** `users`: who a session belongs to, and the per-user limit with what a login past it does. */
function resolveUsers(option: unknown): ResolvedSessionOptions['users'] {
  const users = optionalObject('users', option, ['id', 'maxSessions', 'onLimit']) ?? {};
  const { id, maxSessions = SESSION_DEFAULTS.users.maxSessions, onLimit } = users;
  if (id !== undefined && typeof id !== 'function') {
    throw new SessionConfigError('users.id', `must be a function (session) => string | number | undefined; got ${received(id)}`);
  }
  if (maxSessions !== Infinity && !(Number.isInteger(maxSessions) && (maxSessions as number) >= 1)) {
    throw new SessionConfigError('users.maxSessions', `must be a whole number of at least 1, or Infinity; got ${received(maxSessions)}`);
  }
  if (onLimit !== undefined && maxSessions === Infinity) {
    throw new SessionConfigError('users.onLimit', 'only applies with "users.maxSessions": set a limit, or remove "onLimit"');
  }
  return {
    id: id as ResolvedSessionOptions['users']['id'],
    maxSessions: maxSessions === Infinity ? 0 : (maxSessions as number),
    onLimit: oneOf('users.onLimit', onLimit, ['evict-oldest', 'reject'] as const) ?? SESSION_DEFAULTS.users.onLimit,
  };
}

/** `nearCache`: off when unset or false; `true` or an object of bounds, each a positive whole number. */
function resolveNearCache(option: unknown): ResolvedSessionOptions['nearCache'] {
  if (option === undefined || option === false) return undefined;
  const defaults = SESSION_DEFAULTS.nearCache;
  if (option === true) return { ...defaults };
  const bounds = optionalObject('nearCache', option, ['maxEntries', 'maxBytes', 'maxEntryAge'])!;
  return {
    maxEntries: optionalCount('nearCache.maxEntries', bounds.maxEntries, 1) ?? defaults.maxEntries,
    maxBytes: optionalCount('nearCache.maxBytes', bounds.maxBytes, 1024) ?? defaults.maxBytes,
    maxEntryAge: optionalDuration('nearCache.maxEntryAge', bounds.maxEntryAge) ?? defaults.maxEntryAge,
  };
}

/** `renewal`: off when unset or false; `true` takes the defaults; grace at most half the interval. */
function resolveRenewal(option: unknown): ResolvedSessionOptions['renewal'] {
  if (option === undefined || option === false) return undefined;
  const given = option === true ? {} : optionalObject('renewal', option, ['interval', 'grace'])!;
  const defaults = SESSION_DEFAULTS.renewal;
  const interval = optionalDuration('renewal.interval', given.interval) ?? defaults.interval;
  // Its default grace is half of it: at 1 ms that would be none, no window for requests in flight.
  if (interval < 2) throw new SessionConfigError('renewal.interval', `must be at least 2 ms, room for a grace of half of it; got ${interval}`);
  const grace = optionalDuration('renewal.grace', given.grace) ?? Math.min(defaults.grace, Math.floor(interval / 2));
  if (grace > interval / 2) {
    throw new SessionConfigError(
      'renewal.grace',
      `(${grace} ms) must be at most half of "renewal.interval" (${interval} ms): an old ID must die well before its successor is renewed in turn`,
    );
  }
  return { interval, grace };
}

/** `sockets`: the origins allowed besides the app's own, each a bare origin such as `https://app.example`. */
function resolveSockets(option: unknown): ResolvedSessionOptions['sockets'] {
  const sockets = optionalObject('sockets', option, ['allowedOrigins']) ?? {};
  const given = sockets.allowedOrigins ?? SESSION_DEFAULTS.sockets.allowedOrigins;
  if (!Array.isArray(given)) throw new SessionConfigError('sockets.allowedOrigins', `must be an array of origins; got ${received(given)}`);
  const allowedOrigins = given.map((value: unknown, index) => {
    const name = `sockets.allowedOrigins[${index}]`;
    if (typeof value !== 'string') throw new SessionConfigError(name, `must be an origin such as "https://app.example"; got ${received(value)}`);
    let url: URL | undefined;
    try {
      url = new URL(value);
    } catch {
      url = undefined;
    }
    // An origin is a scheme, a host and a port, nothing more (one trailing slash is let pass). It is
    // kept as a browser's Origin header spells it: the parser lowercases it and drops a default port.
    if (!url || url.origin === 'null' || url.username || url.password || url.pathname !== '/' || url.search || url.hash || value.endsWith('?')) {
      throw new SessionConfigError(name, `must be an origin (scheme://host[:port]; no path, query or credentials); got ${JSON.stringify(value)}`);
    }
    return url.origin;
  });
  return { allowedOrigins };
}

function resolveSecrets(secret: unknown): string[] {
  const secrets = Array.isArray(secret) ? secret : [secret];
  if (secret === undefined || secrets.length === 0) {
    throw new SessionConfigError('secret', 'is required: a string of at least 32 characters, or an array of them (newest first)');
  }
  Array.from(secrets, (value: unknown, index) => {
    const name = Array.isArray(secret) ? `secret[${index}]` : 'secret';
    if (typeof value !== 'string' || value.length < MIN_SECRET_LENGTH) {
      throw new SessionConfigError(name, `must be a string of at least ${MIN_SECRET_LENGTH} characters`);
    }
  });
  return secrets as string[];
}

/**
 * `exclude` and `forRoutes`: each entry a path or a `{ path, method }` (`forRoutes` also takes a
 * controller class, as Nest's does); checked here, since Nest fails on a bad one with a bare TypeError.
 */
function optionalRoutes<T>(name: 'exclude' | 'forRoutes', value: T[] | undefined): T[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw new SessionConfigError(name, 'must be an array of paths or RouteInfo objects');
  Array.from(value, (route: unknown, i) => {
    const path = typeof route === 'object' && route !== null ? (route as { path?: unknown }).path : undefined;
    const valid =
      (typeof route === 'string' && route !== '') || (typeof path === 'string' && path !== '') || (name === 'forRoutes' && typeof route === 'function');
    if (!valid) throw new SessionConfigError(`${name}[${i}]`, `must be a path or a RouteInfo object ({ path, method }); got ${received(route)}`);
  });
  return value;
}
