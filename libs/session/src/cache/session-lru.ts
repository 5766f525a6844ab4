/**
 * A session as the near cache keeps it: exactly the hash Redis holds, field by field, its expiry
 * field included (sealed values stay sealed). Never handed out to be changed: each hit decodes it.
 */
export type CachedSession = Readonly<Record<string, string>>;

/** Bounds of the cache; every one applies at once. */
export interface SessionLruBounds {
  maxEntries: number;
  /** Bytes of the cache's own accounting (`entryBytes`). */
  maxBytes: number;
  /** Ms an entry may be served after it was filled, however quiet its key: a backstop, not the coherence mechanism. */
  maxAge: number;
}

interface Entry {
  session: CachedSession;
  bytes: number;
  filledAt: number;
}

/** Fixed cost of one entry beyond its strings: the Map slot, the entry objects and the array, in bytes. */
const ENTRY_OVERHEAD_BYTES = 160;
/** Fixed cost of one field/value pair beyond its characters: two string headers and the array slots. */
const FIELD_OVERHEAD_BYTES = 48;

/**
 * What an entry costs in memory, as the cache counts it: two bytes per character of its key, fields
 * and values (V8 may store one-byte strings in half that, so this errs high), plus fixed overheads.
 */
export function entryBytes(redisKey: string, session: CachedSession): number {
  let chars = redisKey.length;
  let fields = 0;
  for (const field of Object.keys(session)) {
    chars += field.length + session[field].length;
    fields++;
  }
  return 2 * chars + ENTRY_OVERHEAD_BYTES + FIELD_OVERHEAD_BYTES * fields;
}

/**
 * Least-recently-used map of sessions by Redis key, bounded by entries and by bytes, with a maximum
 * age. A Map keeps insertion order, so re-inserting on each hit keeps the least recent first.
 */
export class SessionLru {
  private readonly entries = new Map<string, Entry>();
  private totalBytes = 0;

  constructor(private readonly bounds: SessionLruBounds) {}

  get size(): number {
    return this.entries.size;
  }

  /** Bytes of every entry, by `entryBytes`. */
  get bytes(): number {
    return this.totalBytes;
  }

  /** The entry, made the most recent; undefined when absent or older than `maxAge` (then dropped). */
  get(redisKey: string, now: number): CachedSession | undefined {
    const entry = this.entries.get(redisKey);
    if (!entry) return undefined;
    if (now - entry.filledAt >= this.bounds.maxAge) {
      this.delete(redisKey);
      return undefined;
    }
    this.entries.delete(redisKey);
    this.entries.set(redisKey, entry);
    return entry.session;
  }

  /** Whether the key is held, without touching its recency. */
  has(redisKey: string): boolean {
    return this.entries.has(redisKey);
  }

  /** Stores the session, evicting the least recent entries until every bound holds; one larger than `maxBytes` alone is not kept. */
  set(redisKey: string, session: CachedSession, now: number): void {
    this.delete(redisKey);
    const bytes = entryBytes(redisKey, session);
    if (bytes > this.bounds.maxBytes) return;
    this.entries.set(redisKey, { session, bytes, filledAt: now });
    this.totalBytes += bytes;
    for (const [oldest] of this.entries) {
      if (this.entries.size <= this.bounds.maxEntries && this.totalBytes <= this.bounds.maxBytes) break;
      this.delete(oldest);
    }
  }

  /** Drops one key; true when it was held. */
  delete(redisKey: string): boolean {
    const entry = this.entries.get(redisKey);
    if (!entry) return false;
    this.entries.delete(redisKey);
    this.totalBytes -= entry.bytes;
    return true;
  }

  clear(): void {
    this.entries.clear();
    this.totalBytes = 0;
  }
}
