import { createHash } from 'node:crypto';

/*
 * The Redis key scheme as the README documents it, written out here without the library's helpers: a
 * test that computed its expected keys with `sessionRedisKey` or `digestOf` would agree with a broken
 * scheme (an ID stored raw, a digest cut short, a prefix dropped). Same names as the library's, so a
 * test reads the same either way.
 */

/** The digest that names a session in Redis and in events: SHA-256 of the ID, base64url, its first 32 characters. */
export function digestOf(sessionId: string): string {
  return createHash('sha256').update(sessionId, 'utf8').digest('base64url').slice(0, 32);
}

/** A session's key: the prefix, then the digest of its ID; never the ID itself. */
export function sessionRedisKey(prefix: string, sessionId: string): string {
  return `${prefix}${digestOf(sessionId)}`;
}

/** A user's index of sessions: the prefix, `user:`, then the user's id URI-encoded. */
export function userIndexRedisKey(prefix: string, userId: string): string {
  return `${prefix}user:${encodeURIComponent(userId)}`;
}
