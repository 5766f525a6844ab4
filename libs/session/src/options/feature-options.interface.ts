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

/** Bounds of the near cache (`SessionModuleOptions.nearCache`); each applies at once. */
export interface NearCacheOptions {
  /** Most sessions held. @default 10_000 */
  maxEntries?: number;
  /** Most bytes held, counted as two bytes per character of keys, fields and values plus fixed overheads. @default 33_554_432 (32 MiB) */
  maxBytes?: number;
  /** Milliseconds a session read from Redis may be served from memory at most, however quiet its key: a backstop. @default 60_000 (1 min) */
  maxEntryAge?: number;
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
   * the TTL ran out: best-effort. They need `notify-keyspace-events` to include `Ex` on every master:
   * `true` checks at boot and logs when it does not; `'configure'` also sets it (`CONFIG SET`, which
   * many managed Redis services refuse). @default false
   */
  expired?: boolean | 'configure';
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
