import type { ResolvedEncryption } from '../options/resolved-storage-options';
import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';

/** Marks a sealed value. No JSON value starts with it, so a sealed value never passes for plaintext JSON. */
export const SEALED_MARK = '~';

const KEY_ID_BYTES = 4;
const IV_BYTES = 12; // GCM's native nonce size
const TAG_BYTES = 16;
const HEADER_BYTES = KEY_ID_BYTES + IV_BYTES + TAG_BYTES;
/** Base64url characters wholly made of the key id's bits (5 × 6 = 30 of its 32). */
const PREFIX_CHARACTERS = Math.floor((KEY_ID_BYTES * 8) / 6);
/** Base64url characters of the shortest sealed value: the header, an empty ciphertext. */
const MIN_SEALED_CHARACTERS = Math.ceil((HEADER_BYTES * 8) / 6);

/** Under the `encryption` option: the sealer, and the session's Redis key its values are bound to. */
export interface Sealing {
  sealer: FieldSealer;
  redisKey: string;
}

/** Why a stored value did not open; the store treats the session as absent and logs it once. */
export class UnopenableValueError extends Error {}

interface SealingKey {
  id: Buffer;
  /** How a value sealed under this key starts: the mark and the first 30 bits of the id, in base64url. */
  prefix: string;
  /** A KeyObject, so each cipher does not import the key's bytes again. */
  aesKey: KeyObject;
}

/*
 * Each seal needs 12 fresh random bytes, and a synchronous `randomBytes` call of that size costs more
 * than the AES itself (about 5 µs against 3 here): IVs are cut from a larger draw instead, each slice
 * used once, a new draw replacing the pool when it runs out (never refilled in place, so an IV handed
 * out is never overwritten). Node's `randomUUID` pools its entropy the same way.
 */
const IV_POOL_BYTES = IV_BYTES * 256;
let ivPool = Buffer.alloc(0);
let ivOffset = 0;

function freshIv(): Buffer {
  if (ivOffset + IV_BYTES > ivPool.length) {
    ivPool = randomBytes(IV_POOL_BYTES);
    ivOffset = 0;
  }
  ivOffset += IV_BYTES;
  return ivPool.subarray(ivOffset - IV_BYTES, ivOffset);
}

/**
 * Seals and opens session field values with AES-256-GCM (Node's `crypto`), as
 * `~` + base64url(key id 4 | IV 12 | tag 16 | ciphertext). The newest key seals; every key opens, the
 * key id picking which, so keys rotate without logging anyone out. The session's Redis key and the
 * field name are the associated data: a value copied to another field or another session does not
 * authenticate. Each IV is random, so two seals of one value differ: compare plaintext, or the exact
 * bytes Redis holds, never a fresh seal (see `SessionKeyUpdates`).
 *
 * The AES key and the key id are derived from each configured key with HKDF-SHA-256, so a key of any
 * length from 32 bytes works, and the id (written in clear in every value) says nothing of the key.
 */
export class FieldSealer {
  private readonly keys: SealingKey[];
  readonly acceptPlaintext: boolean;

  constructor({ keys, acceptPlaintext }: ResolvedEncryption) {
    this.keys = keys.map((key) => {
      const id = derive(key, 'nest-redis-session key id', KEY_ID_BYTES);
      return {
        id,
        prefix: SEALED_MARK + id.toString('base64url').slice(0, PREFIX_CHARACTERS),
        aesKey: createSecretKey(derive(key, 'nest-redis-session aes-256-gcm', 32)),
      };
    });
    this.acceptPlaintext = acceptPlaintext;
  }

  /** Hex ids of the keys, newest first: two keys with one id cannot both open (the options refuse that). */
  get keyIds(): string[] {
    return this.keys.map((key) => key.id.toString('hex'));
  }

  seal(redisKey: string, field: string, plaintext: string): string {
    const { id, aesKey } = this.keys[0];
    const iv = freshIv();
    const cipher = createCipheriv('aes-256-gcm', aesKey, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(associatedData(redisKey, field));
    const ciphertext = cipher.update(plaintext, 'utf8');
    cipher.final(); // computes the tag; GCM is a stream mode, so `update` gave every byte and this gives none
    // The value assembled in one buffer of its final size: each seal is on the write path of a request.
    const sealed = Buffer.allocUnsafe(HEADER_BYTES + ciphertext.length);
    id.copy(sealed, 0);
    iv.copy(sealed, KEY_ID_BYTES);
    cipher.getAuthTag().copy(sealed, KEY_ID_BYTES + IV_BYTES);
    ciphertext.copy(sealed, HEADER_BYTES);
    return SEALED_MARK + sealed.toString('base64url');
  }

  /** The plaintext of a value sealed for this field of this session; throws `UnopenableValueError` otherwise. */
  open(redisKey: string, field: string, stored: string): string {
    this.checkOpenable(field, stored);
    if (stored[0] !== SEALED_MARK) return stored; // plaintext, let in by `acceptPlaintext`
    const bytes = Buffer.from(stored.slice(1), 'base64url');
    // The prefix matched 30 bits of a key id: the whole id picks the key.
    const key = bytes.length < HEADER_BYTES ? undefined : this.keyFor(bytes);
    if (!key) throw new UnopenableValueError(unknownKey(field));
    const decipher = createDecipheriv('aes-256-gcm', key.aesKey, bytes.subarray(KEY_ID_BYTES, KEY_ID_BYTES + IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(associatedData(redisKey, field));
    decipher.setAuthTag(bytes.subarray(KEY_ID_BYTES + IV_BYTES, HEADER_BYTES));
    try {
      const plaintext = decipher.update(bytes.subarray(HEADER_BYTES));
      decipher.final(); // checks the tag; gives no bytes, as `update` gave every byte (a stream mode)
      return plaintext.toString('utf8');
    } catch {
      throw new UnopenableValueError(`field "${field}" does not authenticate (tampered with, or copied from another field or session)`);
    }
  }

  /**
   * Throws `UnopenableValueError` when what shows without opening a value says it cannot open: not
   * sealed (unless `acceptPlaintext`), too short, or sealed under a key not in the options. A value
   * that passes may still not authenticate: only `open` tells.
   */
  checkOpenable(field: string, stored: string): void {
    if (stored[0] !== SEALED_MARK) {
      if (this.acceptPlaintext) return;
      throw new UnopenableValueError(`field "${field}" is not sealed (written before encryption was on?)`);
    }
    if (stored.length < SEALED_MARK.length + MIN_SEALED_CHARACTERS) throw new UnopenableValueError(`field "${field}" is too short to be sealed`);
    for (const key of this.keys) if (stored.startsWith(key.prefix)) return;
    throw new UnopenableValueError(unknownKey(field));
  }

  /** True when the value is not sealed under the newest key (an older key, or plaintext): `reseal` rewrites it. */
  isStale(stored: string): boolean {
    if (stored[0] !== SEALED_MARK) return true;
    const bytes = Buffer.from(stored.slice(1, 1 + 8), 'base64url'); // 8 base64 characters hold the 4-byte id and more
    return bytes.length < KEY_ID_BYTES || !bytes.subarray(0, KEY_ID_BYTES).equals(this.keys[0].id);
  }

  private keyFor(bytes: Buffer): SealingKey | undefined {
    const id = bytes.subarray(0, KEY_ID_BYTES);
    return this.keys.find((key) => key.id.equals(id));
  }
}

function unknownKey(field: string): string {
  return `field "${field}" is sealed with a key not in "encryption.keys"`;
}

/**
 * The byte length of the plaintext in a sealed value, read from its length alone (nothing is opened):
 * GCM's ciphertext is as long as its plaintext. 0 for anything too short to be sealed.
 */
export function sealedPlaintextBytes(stored: string): number {
  const characters = stored.length - SEALED_MARK.length;
  return Math.max(0, Math.floor((characters * 3) / 4) - HEADER_BYTES);
}

/** The session's Redis key and the field, the key's length first, so no other pair of key and field gives the same bytes. */
function associatedData(redisKey: string, field: string): Buffer {
  if (lastAssociated !== undefined && redisKey === lastAssociated.redisKey && field === lastAssociated.field) return lastAssociated.data;
  const keyBytes = Buffer.byteLength(redisKey, 'utf8');
  const data = Buffer.allocUnsafe(4 + keyBytes + Buffer.byteLength(field, 'utf8'));
  data.writeUInt32BE(keyBytes, 0);
  data.write(redisKey, 4, 'utf8');
  data.write(field, 4 + keyBytes, 'utf8');
  lastAssociated = { redisKey, field, data };
  return data;
}

/*
 * A request that opens a value mostly seals the same field of the same session on its way out: the
 * last associated data is kept for the next call. Safe to share: `setAAD` reads it at once and keeps
 * no reference, and nothing writes to it after it is built.
 */
let lastAssociated: { redisKey: string; field: string; data: Buffer } | undefined;

function derive(key: Buffer, info: string, length: number): Buffer {
  return Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), info, length));
}
