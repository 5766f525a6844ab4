import { FieldSealer, SEALED_MARK, UnopenableValueError } from './field-sealer';

const OLD_KEY = Buffer.alloc(32, 1);
const NEW_KEY = Buffer.alloc(32, 2);
const SESSION = 'sess:4f0c9a';
const OTHER_SESSION = 'sess:77ab01';
const CART = '[{"sku":"tea","qty":2}]';

function sealer(keys: Buffer[], acceptPlaintext = false): FieldSealer {
  return new FieldSealer({ keys, acceptPlaintext });
}

/** The sealed value's bytes after the mark, to tamper with. */
function bytesOf(sealed: string): Buffer {
  return Buffer.from(sealed.slice(1), 'base64url');
}

describe('FieldSealer', () => {
  it('seals a value into text without the plaintext, and opens it back', () => {
    const fields = sealer([NEW_KEY]);
    const sealed = fields.seal(SESSION, 'cart', CART);
    expect(sealed.startsWith(SEALED_MARK)).toBe(true);
    expect(sealed).not.toContain('tea');
    expect(fields.open(SESSION, 'cart', sealed)).toBe(CART);
  });

  it('gives two seals of one value different strings (random IVs), both opening to the value', () => {
    const fields = sealer([NEW_KEY]);
    const [a, b] = [fields.seal(SESSION, 'cart', CART), fields.seal(SESSION, 'cart', CART)];
    expect(a).not.toBe(b);
    expect([fields.open(SESSION, 'cart', a), fields.open(SESSION, 'cart', b)]).toEqual([CART, CART]);
  });

  it('refuses a value moved to another field or another session (bound as associated data)', () => {
    const fields = sealer([NEW_KEY]);
    const sealed = fields.seal(SESSION, 'cart', CART);
    expect(() => fields.open(SESSION, 'wishlist', sealed)).toThrow(UnopenableValueError);
    expect(() => fields.open(OTHER_SESSION, 'cart', sealed)).toThrow(/does not authenticate/);
  });

  it('binds each value to its own session and field whatever pair was sealed or opened just before', () => {
    const fields = sealer([NEW_KEY]);
    // The associated data of the last pair is kept for the next call: each change of the session
    // alone, of the field alone, and back must give the pair's own bytes.
    const cart = fields.seal(SESSION, 'cart', CART);
    const user = fields.seal(SESSION, 'user', CART);
    const otherCart = fields.seal(OTHER_SESSION, 'cart', CART);
    expect(() => fields.open(SESSION, 'user', cart)).toThrow(UnopenableValueError);
    expect(() => fields.open(OTHER_SESSION, 'cart', cart)).toThrow(UnopenableValueError);
    expect(() => fields.open(SESSION, 'cart', user)).toThrow(UnopenableValueError);
    expect(() => fields.open(SESSION, 'cart', otherCart)).toThrow(UnopenableValueError);
    expect(fields.open(SESSION, 'user', user)).toBe(CART);
    expect(fields.open(OTHER_SESSION, 'cart', otherCart)).toBe(CART);
    expect(fields.open(SESSION, 'cart', cart)).toBe(CART);
    expect(fields.open(SESSION, 'cart', cart)).toBe(CART);
  });

  it('refuses, as not opening, a value with its key id whose other characters are outside base64url', () => {
    const fields = sealer([NEW_KEY]);
    const sealed = fields.seal(SESSION, 'cart', CART);
    // Long enough to pass the length check, but the decoder skips "!": 6 bytes come out, the key id
    // and 2 more, too few for an IV and a tag. Without the header check this reached the decipher,
    // which throws its own error for a tag of 0 bytes.
    const mangled = sealed.slice(0, 9) + '!'.repeat(sealed.length - 9);
    expect(Buffer.from(mangled.slice(1), 'base64url')).toHaveLength(6);
    expect(() => fields.open(SESSION, 'cart', mangled)).toThrow(UnopenableValueError);
  });

  it('refuses a value whose ciphertext, IV or tag was changed by one bit', () => {
    const fields = sealer([NEW_KEY]);
    const bytes = bytesOf(fields.seal(SESSION, 'cart', CART));
    for (const at of [4, 4 + 12, bytes.length - 1]) {
      const tampered = Buffer.from(bytes);
      tampered[at] ^= 1;
      expect(() => fields.open(SESSION, 'cart', SEALED_MARK + tampered.toString('base64url'))).toThrow(/does not authenticate/);
    }
    expect(() => fields.open(SESSION, 'cart', SEALED_MARK + bytes.subarray(0, 20).toString('base64url'))).toThrow(/too short/);
  });

  it('opens values sealed under an older key once a new key goes first, and seals under the new one', () => {
    const before = sealer([OLD_KEY]).seal(SESSION, 'cart', CART);
    const rotated = sealer([NEW_KEY, OLD_KEY]);
    expect(rotated.open(SESSION, 'cart', before)).toBe(CART);
    expect(rotated.isStale(before)).toBe(true);
    const after = rotated.seal(SESSION, 'cart', CART);
    expect(rotated.isStale(after)).toBe(false);
    expect(sealer([NEW_KEY]).open(SESSION, 'cart', after)).toBe(CART);
    expect(() => sealer([OLD_KEY]).open(SESSION, 'cart', after)).toThrow(/a key not in "encryption.keys"/);
  });

  it('accepts plaintext only when told to (the migration window), and calls it stale', () => {
    expect(() => sealer([NEW_KEY]).open(SESSION, 'cart', CART)).toThrow(/is not sealed/);
    const migrating = sealer([NEW_KEY], true);
    expect(migrating.open(SESSION, 'cart', CART)).toBe(CART);
    expect(migrating.isStale(CART)).toBe(true);
  });

  it('opens values sealed by an earlier release: the format and the associated data are stable', () => {
    // Sealed with NEW_KEY by the version before IVs were pooled and the associated data built in one buffer.
    const fields = sealer([NEW_KEY]);
    expect(fields.open(SESSION, 'cart', '~xZcGVxnyAqBH9GHFry2xoFKp1nzWaaS7882HxYN9ot8IzzNLilGZk5ur3GQwidCT5IdEA4EyJA')).toBe(CART);
    expect(fields.open('sess:ü-4f0c9a', 'prefé', '~xZcGV2R7FAS1OfS-tGOci5jlDd0faPb_1QPnPdrtlki3D7H6g0ahoki-hrI')).toBe('"multi-byte"');
  });

  it('never hands out one IV twice, across a refill of its pool of random bytes', () => {
    const fields = sealer([NEW_KEY]);
    const ivs = new Set<string>();
    const seals = 1_000; // several pools' worth
    for (let i = 0; i < seals; i++)
      ivs.add(
        bytesOf(fields.seal(SESSION, 'cart', CART))
          .subarray(4, 16)
          .toString('hex'),
      );
    expect(ivs.size).toBe(seals);
  });

  it('derives a different key id for each key, and keeps multi-byte text intact', () => {
    expect(new Set(sealer([OLD_KEY, NEW_KEY, Buffer.alloc(64, 3)]).keyIds).size).toBe(3);
    const fields = sealer([Buffer.alloc(64, 3)]);
    expect(fields.open(SESSION, 'name', fields.seal(SESSION, 'name', '"Zoë 🍵"'))).toBe('"Zoë 🍵"');
  });

  it('opens a sealed empty plaintext: the header alone is not too short', () => {
    const fields = sealer([NEW_KEY]);
    const sealed = fields.seal(SESSION, 'cart', '');
    expect(bytesOf(sealed)).toHaveLength(4 + 12 + 16);
    expect(fields.open(SESSION, 'cart', sealed)).toBe('');
  });

  it('names each key by the hex of the 4-byte id a value sealed under it starts with, newest first', () => {
    const fields = sealer([NEW_KEY, OLD_KEY]);
    const [newest, older] = fields.keyIds;
    expect(newest).toMatch(/^[0-9a-f]{8}$/);
    const idOf = (sealed: string) => bytesOf(sealed).toString('hex', 0, 4);
    expect(idOf(fields.seal(SESSION, 'cart', CART))).toBe(newest);
    expect(idOf(sealer([OLD_KEY]).seal(SESSION, 'cart', CART))).toBe(older);
  });

  it('calls a plaintext value stale even when its text starts with what a key id looks like in a seal', () => {
    const migrating = sealer([NEW_KEY], true);
    const idText = migrating.seal(SESSION, 'token', '"x"').slice(1, 9); // the newest key's id, as the first 8 characters of a seal
    const plaintext = JSON.stringify(`${idText}-an-app-token`);
    expect(plaintext.slice(1, 9)).toBe(idText);
    expect(migrating.isStale(plaintext)).toBe(true);
  });

  it('draws random bytes for its IVs once per 256 seals, every slice of a draw used once', () => {
    const draws = jest.spyOn(jest.requireActual<typeof import('node:crypto')>('node:crypto'), 'randomBytes'); // the module object the sealer calls
    try {
      const fields = sealer([NEW_KEY]);
      for (let i = 0; i < 256 && draws.mock.calls.length === 0; i++) fields.seal(SESSION, 'cart', CART); // to the start of a draw
      expect(draws.mock.calls).toEqual([[12 * 256]]);
      for (let i = 1; i < 256; i++) fields.seal(SESSION, 'cart', CART); // the rest of that draw
      expect(draws).toHaveBeenCalledTimes(1);
      fields.seal(SESSION, 'cart', CART);
      expect(draws).toHaveBeenCalledTimes(2);
    } finally {
      draws.mockRestore();
    }
  });
});
