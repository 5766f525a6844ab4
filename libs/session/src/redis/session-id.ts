import { createHash, randomBytes } from 'node:crypto';

/**
 * Redis keys hold a SHA-256 digest of the session ID, never the ID itself: a Redis dump, a replica or
 * MONITOR then shows nothing that works as a cookie. 32 base64url characters keep 192 bits, far past
 * any collision risk, and make the key no longer than a raw express-session ID.
 */
export function digestOf(sessionId: string): string {
  let digest = recentDigests.get(sessionId);
  if (digest === undefined) {
    digest = createHash('sha256').update(sessionId).digest('base64url').slice(0, 32);
    if (recentDigests.size >= RECENT_DIGESTS) recentDigests.clear();
    recentDigests.set(sessionId, digest);
  }
  return digest;
}

// A user's requests carry the same ID again and again: remember recent digests rather than hash
// each time. Bounded, and cleared whole when full, which is cheap and rare.
const RECENT_DIGESTS = 10_000;
const recentDigests = new Map<string, string>();

/**
 * The opaque handle a user sees for one of their sessions (to list or revoke it). Derived from the
 * digest so the server can match it, but a second hash away from anything stored as a key name.
 */
export function handleOf(digest: string): string {
  return createHash('sha256').update(`handle:${digest}`).digest('base64url').slice(0, 22);
}

/** A new session ID: 192 random bits, as many as express-session's own default. */
export function newSessionId(): string {
  return randomBytes(24).toString('base64url');
}
