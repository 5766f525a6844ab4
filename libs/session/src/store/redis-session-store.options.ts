import type { Cluster, Redis } from 'ioredis';
import type { SessionEncryptionOptions } from '../options/session-options.interface';

/** Options of `RedisSessionStore`. */
export interface RedisSessionStoreOptions {
  /** An ioredis `Redis` (standalone or Sentinel) or `Cluster` client; the store never closes it. */
  client: Redis | Cluster;
  /** Prefix of every key. @default 'sess:' */
  prefix?: string;
  /** Expiry, in ms, of a session whose cookie has none (a browser-session cookie). @default 86_400_000 (1 day) */
  ttl?: number;
  /** Ms after creation after which a session is dead however active; 0 for none. @default 0 */
  absoluteTimeout?: number;
  /**
   * A read that finds a slide of the expiry due (`touchAfter`) sends it at once, without waiting for
   * it; off, `touch` or the save at the end of the request sends it. @default false
   */
  refreshOnRead?: boolean;
  /**
   * Ms a session's expiry must gain before a read slides it (and stamps a logged-in session's
   * last-seen time); until then reads write nothing. Sessions then expire between `window - touchAfter`
   * and `window` after their last request, `window` being `cookie.maxAge`, else `ttl`. 0 slides on
   * every read. Below the window.
   * @default a tenth of the window, at most 60_000 (1 min)
   */
  touchAfter?: number;
  /** @deprecated the former name of `touchAfter`, still read when `touchAfter` is unset. */
  lastSeenInterval?: number;
  /** Ms a Redis call may take before it fails with `SessionStoreUnavailableError`; 0 for no limit. @default 1_000 */
  commandTimeout?: number;
  /** Wait for replicas after security writes (see `SessionModuleOptions.durability`). @default undefined (off) */
  durability?: { replicas: number; timeout: number };
  /** Seal session values at rest (see `SessionModuleOptions.encryption`). @default undefined (off) */
  encryption?: SessionEncryptionOptions;
  /** Largest session, in bytes of JSON, that a save accepts. @default 65_536 */
  maxSessionBytes?: number;
  /**
   * The cookie settings the session middleware uses (as express-session's `cookie` option). A session
   * whose cookie matches them does not store its cookie, which saves bytes per session. @default undefined
   */
  cookie?: object;
  /** Where corrupt values and connection changes are reported. @default console */
  logger?: Pick<Console, 'warn' | 'error'>;
}
