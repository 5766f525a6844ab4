import type { Cluster, Redis } from 'ioredis';

/*
 * The options the persistence core reads, once checked. Nothing here names Nest: the store's entry
 * point (`nest-redis-session/store`) loads without it.
 */

/** The `encryption` option once checked: the keys as bytes, newest first. */
export interface ResolvedEncryption {
  keys: Buffer[];
  /** Read a value that is not sealed as plaintext (while switching encryption on). */
  acceptPlaintext: boolean;
}

/** The session cookie's settings, every default filled in. */
export interface ResolvedCookie {
  name: string;
  httpOnly: boolean;
  sameSite: boolean | 'lax' | 'strict' | 'none';
  secure: boolean | 'auto';
  path: string;
  domain?: string;
  /** The cookie's Max-Age in ms (the idle timeout) when `cookie.persistent`; undefined for a browser-session cookie. */
  maxAge?: number;
}

/**
 * What the persistence core needs, resolved from the options `SessionModule` and `RedisSessionStore`
 * share (`SessionStorageOptions`): the same fields, defaults and checks for both.
 */
export interface ResolvedStorageOptions {
  prefix: string;
  cookie: ResolvedCookie;
  idleTimeout: number;
  /** 0 means no absolute timeout. */
  absoluteTimeout: number;
  /** Ms a session's expiry must gain before a read slides it. */
  touchAfter: number;
  /** 0 means no deadline. */
  redisDeadline: number;
  /** Undefined when off. */
  durability?: { replicas: number; timeout: number };
  /** Undefined when off. */
  encryption?: ResolvedEncryption;
  maxSessionBytes: number;
  /** Values longer than this many bytes are stored in pieces of this size; 0: every value whole. */
  hashMaxListpackValue: number;
  /** Undefined when periodic ID renewal is off (the standalone store never renews, but follows renewed IDs). */
  renewal?: { interval: number; grace: number };
}

/** `RedisSessionStore`'s options after validation. */
export interface ResolvedStoreOptions extends ResolvedStorageOptions {
  client: Redis | Cluster;
  logger: Pick<Console, 'warn' | 'error'>;
}
