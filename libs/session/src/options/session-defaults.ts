/**
 * Every default of `SessionModule` and `RedisSessionStore`, at the path of the option it fills, with
 * its unit. `touchAfter` has none here: it follows `idleTimeout` (see `defaultTouchAfter`).
 */
export const SESSION_DEFAULTS = deepFreeze({
  prefix: 'sess:',
  cookie: {
    name: 'sid',
    httpOnly: true,
    sameSite: 'lax',
    secure: 'auto',
    path: '/',
    persistent: false,
  },
  idFrom: 'cookie',
  /** Used when `idFrom` is `{ header }` without a name. */
  header: 'X-Session-Token',
  idleTimeout: 30 * 60_000, // 30 min
  absoluteTimeout: 12 * 60 * 60_000, // 12 h
  redisDeadline: 1_000, // 1 s
  maxSessionBytes: 64 * 1024, // 64 KiB
  hashMaxListpackValue: 64, // bytes: Redis's own default
  updateRetries: 20,
  users: {
    maxSessions: Infinity,
    onLimit: 'evict-oldest',
  },
  renewal: {
    interval: 15 * 60_000, // 15 min
    grace: 60_000, // 1 min, at most half the interval
  },
  nearCache: {
    maxEntries: 10_000,
    maxBytes: 32 * 1024 * 1024, // 32 MiB
    maxEntryAge: 60_000, // 1 min
  },
  events: {
    crossReplica: false,
    expired: false,
  },
  sockets: {
    allowedOrigins: [] as readonly string[], // the app's own origin only
  },
} as const);

/** Frozen at every level: one app's code cannot change the defaults every module reads. */
function deepFreeze<T extends object>(value: T): T {
  for (const inner of Object.values(value)) if (inner !== null && typeof inner === 'object') deepFreeze(inner as object);
  return Object.freeze(value);
}

/** `touchAfter`'s default for an idle window: a tenth of it, at most a minute. */
export function defaultTouchAfter(idleTimeout: number): number {
  return Math.min(60_000, idleTimeout / 10);
}
