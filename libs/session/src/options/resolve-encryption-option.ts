import { SessionConfigError } from '../errors/session-config.error';
import type { ResolvedEncryption } from './resolved-storage-options';
import type { SessionEncryptionOptions } from './feature-options.interface';

/** Bytes of key material each `encryption.keys` entry must have at least: AES-256's key size. */
export const MIN_ENCRYPTION_KEY_BYTES = 32;

const BASE64 = /^(?:[A-Za-z0-9+/]+={0,2}|[A-Za-z0-9_-]+={0,2})$/;

/**
 * Validates `encryption` at boot; undefined when off. A key is a Buffer, or a base64 (or base64url)
 * string, of at least 32 bytes: `openssl rand -base64 32` makes one. A string that is not base64 is
 * refused rather than used as a passphrase, so a key can never be weaker than its length suggests.
 * Messages never repeat a key.
 */
export function resolveEncryptionOption(value: SessionEncryptionOptions | undefined): ResolvedEncryption | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SessionConfigError('encryption', 'must be an object { keys, acceptPlaintext }');
  }
  const known = ['keys', 'acceptPlaintext'];
  const unknown = Object.keys(value).find((key) => !known.includes(key));
  if (unknown) throw new SessionConfigError(`encryption.${unknown}`, `is not an option; the options are ${known.join(', ')}`);
  const { keys, acceptPlaintext = false } = value;
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new SessionConfigError('encryption.keys', 'must be a non-empty array of keys, newest first (each a Buffer or base64 string of at least 32 bytes)');
  }
  if (typeof acceptPlaintext !== 'boolean') throw new SessionConfigError('encryption.acceptPlaintext', 'must be true or false');
  // Array.from visits holes too (a comma too many), which map() skips: each is refused by its name.
  const resolved = { keys: Array.from(keys, (key: unknown, i) => keyBytes(`encryption.keys[${i}]`, key)), acceptPlaintext };
  // A key given twice would only waste a trial at every open: a list that repeats one is a mistake.
  const repeated = resolved.keys.findIndex((key, i) => resolved.keys.findIndex((other) => other.equals(key)) !== i);
  if (repeated !== -1) {
    const first = resolved.keys.findIndex((other) => other.equals(resolved.keys[repeated]));
    throw new SessionConfigError(`encryption.keys[${repeated}]`, `is the same key as encryption.keys[${first}]`);
  }
  return resolved;
}

function keyBytes(name: string, key: unknown): Buffer {
  let bytes: Buffer;
  if (Buffer.isBuffer(key)) {
    bytes = key;
  } else if (typeof key === 'string') {
    const text = key.trim();
    if (!BASE64.test(text)) throw new SessionConfigError(name, 'must be base64 (e.g. `openssl rand -base64 32`) or a Buffer; the string given is not base64');
    bytes = Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64');
  } else {
    throw new SessionConfigError(name, `must be a Buffer or a base64 string; got ${key === null ? 'null' : typeof key}`);
  }
  if (bytes.length < MIN_ENCRYPTION_KEY_BYTES) {
    throw new SessionConfigError(name, `must hold at least ${MIN_ENCRYPTION_KEY_BYTES} bytes (e.g. \`openssl rand -base64 32\`); it holds ${bytes.length}`);
  }
  return Buffer.from(bytes); // a copy: a caller that zeroes or reuses its Buffer does not change the key
}
