import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Compares two tokens in constant time. Both are hashed first, so the comparison also takes the same
 * time whatever their lengths, and a missing token never matches.
 */
export function tokensMatch(expected: unknown, given: unknown): boolean {
  if (typeof expected !== 'string' || typeof given !== 'string' || expected.length === 0) return false;
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(given).digest();
  return timingSafeEqual(a, b);
}
