import type { MiddlewareConsumer } from '@nestjs/common';
import type { SessionData } from 'express-session';
import type { Cluster, ClusterNode, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import type { SessionMetricsOptions } from './metrics-options';
import type { NearCacheOptions, SessionEventsOptions, SessionRenewalOptions } from './feature-options.interface';
import type { SessionStorageOptions } from './storage-options.interface';

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

/**
 * Who a session belongs to, for the user index (`list`, `revoke`, `logoutEverywhere`) and
 * `users.maxSessions`: a string or number id, or undefined for an anonymous session. Called at every
 * save, it reads the session and must not change it. The session's own keys are typed `any` so a
 * function can reach keys the app never declared on `SessionData`.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- on purpose, see above: `unknown` would make every undeclared key a type error in the app's function.
export type SessionUserId = (session: SessionData & Record<string, any>) => string | number | undefined;

/**
 * Where a request's session ID travels: the cookie, or a request header for clients that keep no
 * cookies (mobile apps, scripts). `{ header }` reads the header only; `{ header, cookie: true }` reads
 * both, a request carrying the header being decided by the header alone. The header holds the ID
 * signed as the cookie is; a response announces a new or changed ID in the same header and an ended
 * session with an empty one, and never sets a cookie for a request that came with the header.
 */
export type SessionIdSource =
  | 'cookie'
  | {
      /** Name of the request and response header. @default 'X-Session-Token' */
      header?: string;
      /** Also accept the cookie (requests without the header). @default false */
      cookie?: boolean;
    };

/** The user index: each user's sessions, listed, revoked, logged out everywhere, and limited. */
export interface SessionUsersOptions {
  /**
   * Finds the user a session belongs to. Whenever a save finds another answer than before (a login,
   * passport's `req.logIn`, a logout, a new session ID), the session's index entry moves in that save.
   * @default the library's `session.user.id`, else passport's `session.passport.user` when it is a string or number
   */
  id?: SessionUserId;
  /** Most live sessions one user may have. @default Infinity (no limit) */
  maxSessions?: number;
  /** At a login past `maxSessions`: revoke the user's oldest session, or refuse the login (409). @default 'evict-oldest' */
  onLimit?: 'evict-oldest' | 'reject';
}

/** Options of `SessionModule.forRoot` (and what `forRootAsync`'s factory returns). */
export interface SessionModuleOptions extends SessionStorageOptions {
  /** Cookie signing secret, at least 32 characters; an array (newest first) rotates secrets. */
  secret: string | string[];
  /** Redis connection: URL, ioredis options, Sentinel, Cluster, or a client instance. */
  redis: SessionRedisOption;
  /** Where a request's session ID comes from (see `SessionIdSource`). @default 'cookie' */
  idFrom?: SessionIdSource;
  /** The user index and its per-user limit. */
  users?: SessionUsersOptions;
  /**
   * How many times in a row another process may win the write of a key before `SessionService.update`
   * gives up (409). Updates made in this process never count: they queue and are written together.
   * @default 20
   */
  updateRetries?: number;
  /**
   * Periodic ID renewal: a session whose ID is older than `interval` gets a new ID (and cookie) on its
   * next request, its data and user index entry kept; the old ID leads to the new one for `grace`, so
   * requests already under way with it keep their session and their writes, on any replica, then dies.
   * `true` takes the defaults. @default undefined (off); with `true`: { interval: 900_000 (15 min), grace: 60_000 (1 min) }
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
   * name prefix and the latency buckets. @default undefined (off)
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
   * coherent through Redis's own invalidations. `true` takes the default bounds. Where Redis refuses
   * `CLIENT TRACKING`, it falls back to PUBLISH from this library's writes and says so at boot.
   * @default undefined (off)
   */
  nearCache?: boolean | NearCacheOptions;
  /** Where `SessionEvents` gets its events from, beyond this replica's own. */
  events?: SessionEventsOptions;
  /** WebSocket handshakes (socket.io, `ws`) wired through `withSessions`. */
  sockets?: SessionSocketsOptions;
}

/** The `sockets` option: who may open a WebSocket that carries a session. */
export interface SessionSocketsOptions {
  /**
   * Origins (`scheme://host[:port]`, as browsers send the `Origin` header) allowed to open a socket
   * besides the app's own (the handshake's `Host`). A handshake from any other origin is refused: a
   * browser sends cookies on a cross-site WebSocket, so this check is what stops cross-site
   * WebSocket hijacking. A handshake without `Origin` (not a browser) is not checked.
   * @default [] (the app's own origin only)
   */
  allowedOrigins?: string[];
}

/** Extra options of `forRoot`/`forRootAsync` that shape the module rather than the sessions. */
export interface SessionModuleExtras {
  /** Register the module globally so every module can inject `SessionService`. @default false */
  isGlobal?: boolean;
}
