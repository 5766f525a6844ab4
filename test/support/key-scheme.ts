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

/*
 * A long value in a session's hash is stored in pieces (the README's "How it works"): its field holds
 * "\x1f", the piece count, ":" and the first piece; piece i is the field ":<i>:<field>". These read a
 * hash the way the README says, without the library's reader.
 */

/** A head: the mark (the unit separator, 0x1f), the piece count, ':'. */
const HEAD = new RegExp(`^${String.fromCharCode(0x1f)}(\\d+):`);

/** Reads through the few commands the helpers below need (an ioredis client answers them). */
export interface HashReader {
  hgetall(key: string): Promise<Record<string, string>>;
}

/** A session's hash with each value whole and no piece fields (a missing key: `{}`). */
export async function storedHash(redis: HashReader, key: string): Promise<Record<string, string>> {
  const raw = await redis.hgetall(key);
  const whole: Record<string, string> = {};
  for (const [field, value] of Object.entries(raw)) {
    if (/^:\d/.test(field)) continue;
    const head = HEAD.exec(value);
    if (!head) {
      whole[field] = value;
      continue;
    }
    let joined = value.slice(head[0].length);
    for (let i = 1; i < Number(head[1]); i++) joined += raw[`:${i}:${field}`];
    whole[field] = joined;
  }
  return whole;
}

/** One field of a session's hash, whole; null when absent. */
export async function storedField(redis: HashReader, key: string, field: string): Promise<string | null> {
  return (await storedHash(redis, key))[field] ?? null;
}
