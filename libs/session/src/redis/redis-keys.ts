import { digestOf } from './session-id';

// Every Redis key and channel name the library uses is built here, so a change of scheme touches one
// file (the Lua scripts get theirs as KEYS from these).

/** Redis key of a session: the prefix and a digest of the ID, never the ID itself (see `digestOf`). */
export function sessionRedisKey(prefix: string, sessionId: string): string {
  return prefix + digestOf(sessionId);
}

/** Redis key of a session known by its digest, as the user index and `ids()` name sessions. */
export function digestRedisKey(prefix: string, digest: string): string {
  return prefix + digest;
}

/** Redis key of one user's index of sessions. */
export function userIndexRedisKey(prefix: string, userId: string): string {
  return `${prefix}user:${encodeURIComponent(userId)}`;
}

/**
 * Redis keys of one activity bucket (HyperLogLogs of the sessions and users seen in it). The hash
 * tag puts every bucket of a prefix in one Cluster slot, whatever the prefix holds, so one PFCOUNT
 * merges them all.
 */
export function activityRedisKeys(prefix: string, bucketStart: number): { sessions: string; users: string } {
  return { sessions: `${prefix}{activity}:sessions:${bucketStart}`, users: `${prefix}{activity}:users:${bucketStart}` };
}

/** The pub/sub channel `events.crossReplica` fans lifecycle events out on (a channel, not a key: any node of a cluster). */
export function eventsChannel(prefix: string): string {
  return `${prefix}events`;
}

/** The channel Redis sends a database's `expired` keyspace notifications on (`events.expired`); outside the prefix. */
export function expiredEventsChannel(db: number): string {
  return `__keyevent@${db}__:expired`;
}

/** The channel the near cache falls back to where Redis refuses CLIENT TRACKING: writers PUBLISH each key they change. */
export function nearCacheChannel(prefix: string): string {
  return `${prefix}near-cache:invalidate`;
}

/**
 * A key whose invalidation proves the near cache's invalidations arrive (its heartbeat). `tail`
 * names the replica, and on a cluster carries a hash tag that puts the key on a given master.
 */
export function nearCacheHeartbeatRedisKey(prefix: string, tail: string): string {
  return `${prefix}near-cache:heartbeat:${tail}`;
}

/** The digest a session key names, or undefined for any other key (a user index, an activity bucket, another app's key). */
export function digestOfSessionKey(prefix: string, redisKey: string): string | undefined {
  if (!redisKey.startsWith(prefix)) return undefined;
  const digest = redisKey.slice(prefix.length);
  return SESSION_DIGEST.test(digest) ? digest : undefined;
}

/** What `digestOf` makes: 32 base64url characters. */
const SESSION_DIGEST = /^[A-Za-z0-9_-]{32}$/;
