import type { MiddlewareConsumer } from '@nestjs/common';
import type { Cluster, ClusterNode, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import type { SessionMetricsOptions } from '../metrics/metrics-options';
import type { SessionUserId } from '../users/user-id';

/**
 * A route as Nest's middleware `exclude` takes it: a path, or `{ path, method }` (Nest's `RouteInfo`,
 * derived here because Nest 12 no longer exports it from `@nestjs/common`).
 */
export type SessionRoute = Parameters<ReturnType<MiddlewareConsumer['apply']>['exclude']>[number];

/**
 * Where the sessions live. A client the module creates from this option is closed on application
 * shutdown; a `Redis` or `Cluster` instance you pass in stays yours and is left open.
 */
export type SessionRedisOption =
  /** `redis://` or `rediss://` URL. */
  | string
  /** ioredis options for one server, or `{ sentinels, name }` for Sentinel. */
  | RedisOptions
  /** Redis Cluster: its seed nodes and ioredis cluster options. */
  | { cluster: ClusterNode[]; options?: ClusterOptions }
  /** An ioredis client you created and manage. */
  | Redis
  | Cluster;

/** The session cookie. Defaults follow OWASP's session management advice. */
export interface SessionCookieOptions {
  /** Cookie name. @default 'sid' */
  name?: string;
  /** Hide the cookie from page scripts. @default true */
  httpOnly?: boolean;
  /** @default 'lax' */
  sameSite?: boolean | 'lax' | 'strict' | 'none';
  /** `'auto'` marks the cookie Secure when the request came over HTTPS (honouring `trustProxy`). @default 'auto' */
  secure?: boolean | 'auto';
  /** @default '/' */
  path?: string;
  /** @default undefined (host-only cookie) */
  domain?: string;
  /**
   * Milliseconds. Unset, the cookie lasts for the browser session. Set, the cookie persists this long
   * after the last change and the value also becomes the idle timeout, so cookie and store agree.
   * @default undefined
   */
  maxAge?: number;
}

/** The `encryption` option: session values sealed at rest (see the README's "Encryption at rest"). */
export interface SessionEncryptionOptions {
  /**
   * AES-256-GCM keys, newest first: the first seals, every one opens, so a new key goes first and an
   * old one stays until `SessionService.reseal()` has rewritten what it sealed. Each is a Buffer, or a
   * base64 string, of at least 32 bytes (`openssl rand -base64 32`).
   */
  keys: (string | Buffer)[];
  /**
   * Read a value that is not sealed as plaintext instead of treating its session as absent: only
   * while switching encryption on for sessions written without it (then run `reseal()`, then turn
   * this off). @default false
   */
  acceptPlaintext?: boolean;
}

/** Options of `SessionModule.forRoot` (and what `forRootAsync`'s factory returns). */
export interface SessionModuleOptions {
  /** Cookie signing secret, at least 32 characters; an array (newest first) rotates secrets. */
  secret: string | string[];
  /** Redis connection: URL, ioredis options, Sentinel, Cluster, or a client instance. */
  redis: SessionRedisOption;
  /** Prefix of every Redis key the module writes. @default 'sess:' */
  prefix?: string;
  /** The session cookie. */
  cookie?: SessionCookieOptions;
  /**
   * Where a request's session ID comes from: the cookie, a request header (for clients that keep no
   * cookies: mobile apps, scripts), or `'both'`, where a request that carries the header is decided by
   * the header alone. The header holds the ID signed as the cookie is; a response announces a new or
   * changed ID in the same header and an ended session with an empty one, and never sets a cookie for
   * a request that came with the header. See the README's "Session IDs in a header".
   * @default 'cookie'
   */
  idFrom?: 'cookie' | 'header' | 'both';
  /** Name of the request and response header that carries the session ID when `idFrom` is `'header'` or `'both'`. @default 'X-Session-Token' */
  header?: string;
  /** Milliseconds without a request after which a session expires (the key's TTL in Redis). @default 1_800_000 (30 min) */
  idleTimeout?: number;
  /** Milliseconds after creation (or login) after which a session is dead however active; `false` disables. @default 43_200_000 (12 h) */
  absoluteTimeout?: number | false;
  /** Most live sessions one user may have; `Infinity` for no limit. @default Infinity */
  maxSessionsPerUser?: number;
  /**
   * Finds the user a session belongs to, for the user index (`list`, `revoke`, `logoutEverywhere`) and
   * `maxSessionsPerUser`. Whenever a save finds another answer than before (a login, passport's
   * `req.logIn`, a logout, a new session ID), the session's index entry moves in that save.
   * @default the library's `session.user.id`, else passport's `session.passport.user` when it is a string or number
   */
  userId?: SessionUserId;
  /** At a login past `maxSessionsPerUser`: revoke the user's oldest session, or refuse the login (409). @default 'evict-oldest' */
  onLimit?: 'evict-oldest' | 'reject';
  /**
   * Milliseconds a session's expiry must gain before a request slides it. Until then a request that
   * only reads the session writes nothing to Redis (one HGETALL); the slide, when due, also stamps the
   * session's "last seen" time, so that is at most this old. The effective idle timeout is then
   * between `idleTimeout - touchAfter` and `idleTimeout`. 0 slides on every request. Must be below
   * `idleTimeout`.
   * @default idleTimeout / 10, at most 60_000 (1 min)
   */
  touchAfter?: number;
  /** @deprecated the former name of `touchAfter` (last-seen now rides on the slide); still read when `touchAfter` is unset. */
  lastSeenInterval?: number;
  /** Milliseconds a Redis call may take before the request answers 503. @default 1_000 */
  commandTimeout?: number;
  /**
   * Make the writes that security depends on (login, logout, revoke, log out everywhere, ID changes)
   * wait until `replicas` Redis replicas have them, for at most `timeout` ms (Redis `WAIT`, on a
   * connection of their own). A shortfall is logged and counted, not an error. Pair it with Redis's
   * `min-replicas-to-write` (README). `timeout` must fit within `commandTimeout`. @default undefined (off)
   */
  durability?: { replicas: number; timeout: number };
  /**
   * Seal every session value (and the user agent and IP kept for `list`) with AES-256-GCM before it
   * reaches Redis, so a dump, a replica, a backup or `MONITOR` shows no session data. A value that
   * does not open (tampered with, copied, an unknown key) makes its session absent, logged once.
   * @default undefined (off: values are stored as plain JSON)
   */
  encryption?: SessionEncryptionOptions;
  /** Largest session, in bytes of stored JSON, that a save accepts (413 above). @default 65_536 (64 KiB) */
  maxSessionBytes?: number;
  /**
   * How many times in a row another process may win the write of a key before `SessionService.update`
   * gives up (409). Updates made in this process never count: they queue and are written together.
   * @default 20
   */
  updateRetries?: number;
  /**
   * Periodic ID renewal: a session whose ID is older than `interval` gets a new ID (and cookie) on its
   * next request, its data and user index entry kept; the old ID leads to the new one for `grace`, so
   * requests already under way with it (parallel tabs, a slow upload) keep their session and their
   * writes, on any replica, then dies. `true` takes the defaults. See the README's "Periodic ID renewal".
   * @default undefined (off); with `true`: { interval: 900_000 (15 min), grace: 60_000 (1 min) }
   */
  renewal?: boolean | SessionRenewalOptions;
  /** Trust `X-Forwarded-Proto` for `cookie.secure: 'auto'`; unset, Express's `trust proxy` setting decides. @default undefined */
  trustProxy?: boolean;
  /** Mount session handling only on these routes (Nest `forRoutes` syntax). Unset: every route, through the fast `app.use` path. @default undefined */
  forRoutes?: SessionRoute[];
  /** Routes that get no session handling (Nest `exclude` syntax). @default [] */
  exclude?: SessionRoute[];
  /**
   * Prometheus metrics through prom-client (an optional peer dependency, loaded only when this is
   * set): `true` registers them in prom-client's global registry; an object picks the registry, a
   * name prefix and the latency buckets. See the README's "Operations" section. @default undefined (off)
   */
  metrics?: boolean | SessionMetricsOptions;
  /**
   * OpenTelemetry spans (`session.load`, `session.save`, …) through `@opentelemetry/api`, an optional
   * peer. `true` requires it; `false` never traces.
   * @default undefined: traced when `@opentelemetry/api` is installed and a tracer provider is registered at boot
   */
  tracing?: boolean;
  /**
   * Keep recently read sessions in this replica's memory and serve them with no Redis round trip,
   * coherent through Redis's own invalidations (server-assisted client-side caching; every writer is
   * seen, not only this library). `true` takes the default bounds. Where Redis refuses
   * `CLIENT TRACKING`, it falls back to PUBLISH from this library's writes and says so at boot. See
   * the README's "Near cache". @default undefined (off)
   */
  nearCache?: boolean | NearCacheOptions;
  /** Where `SessionEvents` gets its events from, beyond this replica's own. See the README's "Events". */
  events?: SessionEventsOptions;
}

/** Bounds of the near cache (`SessionModuleOptions.nearCache`); each applies at once. */
export interface NearCacheOptions {
  /** Most sessions held. @default 10_000 */
  maxEntries?: number;
  /** Most bytes held, counted as two bytes per character of keys, fields and values plus fixed overheads. @default 33_554_432 (32 MiB) */
  maxBytes?: number;
  /** Milliseconds a session read from Redis may be served from memory at most, however quiet its key: a backstop. @default 60_000 (1 min) */
  maxAge?: number;
}

/** The `events` option: `SessionEvents` always has this replica's own events; these add more. */
export interface SessionEventsOptions {
  /**
   * Fan every replica's events out to every replica over Redis pub/sub (channel `<prefix>events`,
   * one extra connection per replica): each replica's `SessionEvents` then has every event once.
   * @default false
   */
  crossReplica?: boolean;
  /**
   * Add `expired` events from Redis's keyspace notifications (`__keyevent@<db>__:expired`, one extra
   * connection per master). Redis sends them when it deletes the key, which may be some time after
   * the TTL ran out: best-effort. Needs `notify-keyspace-events` to include `Ex` on every master; the
   * library checks at boot and logs when it does not, unless `enableKeyspaceEvents` sets it.
   * @default false
   */
  expired?: boolean;
  /** With `expired`: add `Ex` to each master's `notify-keyspace-events` at boot (`CONFIG SET`; many managed Redis services refuse it). @default false */
  enableKeyspaceEvents?: boolean;
  /** This replica's name in its events. @default `<hostname>:<pid>` */
  replica?: string;
}

/** The `renewal` option as an object. */
export interface SessionRenewalOptions {
  /** Ms after a session's ID was issued (creation, login, regenerate, last renewal) after which it is renewed. @default 900_000 (15 min) */
  interval?: number;
  /**
   * Ms the old ID keeps leading to the new one: longer than the slowest request, at most half the
   * interval. A write that ends later than this with the old ID is dropped. @default 60_000 (1 min)
   */
  grace?: number;
}

/** Extra options of `forRoot`/`forRootAsync` that shape the module rather than the sessions. */
export interface SessionModuleExtras {
  /** Register the module globally so every module can inject `SessionService`. @default false */
  isGlobal?: boolean;
}
