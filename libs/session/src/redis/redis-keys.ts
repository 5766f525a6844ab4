import { digestOf } from './session-id';

// Every Redis key name the library writes is built here, so a change of scheme touches one file.

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
