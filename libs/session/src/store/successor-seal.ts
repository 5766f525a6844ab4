import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

/*
 * A renewed session's old key must tell whoever still holds the old ID what the new ID is, and
 * Redis never holds an ID that works as a cookie. So the new ID is sealed (AES-256-GCM) under a key
 * derived from the old ID with HMAC: only a holder of the old ID opens it. The key is not the digest
 * that names the Redis key (a plain SHA-256 of the ID), so a Redis dump, a replica or MONITOR,
 * which see that digest, cannot open it.
 */

const LABEL = 'nest-redis-session:successor';
const IV_BYTES = 12;
const TAG_BYTES = 16;

function keyFor(oldId: string): Buffer {
  return createHmac('sha256', oldId).update(LABEL).digest();
}

/** The successor's ID, sealed for the holders of `oldId`: base64url of IV, tag and ciphertext. */
export function sealSuccessor(successorId: string, oldId: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', keyFor(oldId), iv);
  const sealed = Buffer.concat([cipher.update(successorId, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64url');
}

/** The successor's ID, or undefined when `sealed` was not sealed for `oldId` (tampered, or another session's). */
export function openSuccessor(sealed: string, oldId: string): string | undefined {
  try {
    const bytes = Buffer.from(sealed, 'base64url');
    if (bytes.length <= IV_BYTES + TAG_BYTES) return undefined;
    const decipher = createDecipheriv('aes-256-gcm', keyFor(oldId), bytes.subarray(0, IV_BYTES));
    decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
