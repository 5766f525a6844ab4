import type { Cluster, Redis } from 'ioredis';
import type { SessionEncryptionOptions } from './feature-options.interface';

/*
 * The options `SessionModule` and the standalone `RedisSessionStore` share. Nothing here names Nest:
 * the store's entry point (`nest-redis-session/store`) is used without it.
 */

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
   * Keep the cookie across browser restarts: it then carries an expiry `idleTimeout` ahead (`Expires`,
   * as express-session writes it), sent again with each response and never past the absolute timeout,
   * so cookie and store agree. Off, the cookie lasts for the browser session. @default false
   */
  persistent?: boolean;
}

/** The options `SessionModule` and the standalone `RedisSessionStore` share, with the same names and defaults. */
export interface SessionStorageOptions {
  /** Prefix of every Redis key the library writes. @default 'sess:' */
  prefix?: string;
  /** The session cookie. */
  cookie?: SessionCookieOptions;
  /** Milliseconds without a request after which a session expires (the key's TTL in Redis). @default 1_800_000 (30 min) */
  idleTimeout?: number;
  /** Milliseconds after creation (or login) after which a session is dead however active; `false` disables. @default 43_200_000 (12 h) */
  absoluteTimeout?: number | false;
  /**
   * Milliseconds a session's expiry must gain before a request slides it. Until then a request that
   * only reads the session writes nothing to Redis (one HGETALL); the slide, when due, also stamps the
   * session's "last seen" time, so that is at most this old. The effective idle timeout is then
   * between `idleTimeout - touchAfter` and `idleTimeout`. 0 slides on every request. Below `idleTimeout`.
   * @default idleTimeout / 10, at most 60_000 (1 min)
   */
  touchAfter?: number;
  /**
   * Milliseconds one session operation may wait for Redis, retries and redirections included, before
   * it fails (a request answers 503). Not ioredis's `commandTimeout`, which bounds one attempt.
   * 0 for no limit. @default 1_000
   */
  redisDeadline?: number;
  /**
   * Make the writes that security depends on (login, logout, revoke, log out everywhere, ID changes)
   * wait until `replicas` Redis replicas have them, for at most `timeout` ms (Redis `WAIT`, on a
   * connection of their own). A shortfall is logged and counted, not an error. Pair it with Redis's
   * `min-replicas-to-write` (README). `timeout` must end before `redisDeadline`. @default undefined (off)
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
   * Your Redis server's `hash-max-listpack-value`: the longest value it keeps in a compact hash (a
   * listpack). One longer value turns a session's hash into a hashtable, about a third more memory,
   * so session values longer than this are stored in pieces of at most this many bytes. Set it to
   * what your `redis.conf` says if you changed it there; 0 stores every value whole (a few µs less
   * CPU per request in the app and in Redis, more Redis memory). Replicas with different settings
   * read each other's sessions. @default 64 (Redis's default)
   */
  hashMaxListpackValue?: number;
}

/** Options of the standalone `RedisSessionStore` (express-session without Nest): the module's names and defaults. */
export interface RedisSessionStoreOptions extends SessionStorageOptions {
  /** An ioredis `Redis` (standalone or Sentinel) or `Cluster` client; the store never closes it. */
  client: Redis | Cluster;
  /** Where corrupt values and connection changes are reported. @default console */
  logger?: Pick<Console, 'warn' | 'error'>;
}
