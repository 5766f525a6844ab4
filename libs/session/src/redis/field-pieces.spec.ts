import { asFieldRecord } from './session-fields';
import { PIECE_BYTES, PIECE_MARK, isPieceField, joinPieces, joinedValue, pieceCount, pieceField, storedPairs } from './field-pieces';

describe('field pieces', () => {
  it("name piece i of a field ':<i>:<field>', which no session key and no library field can be", () => {
    expect(pieceField('cart', 1)).toBe(':1:cart');
    expect(pieceField(':u', 12)).toBe(':12::u');
    expect(isPieceField(':1:cart')).toBe(true);
    expect(isPieceField(':9')).toBe(true);
    expect(isPieceField(':0x')).toBe(true);
    for (const field of ['cart', ':c', ':u', ':', '', '1:cart', ':a1', ':/', ':;']) expect(isPieceField(field)).toBe(false);
  });

  it('keep the listpack limit of a default Redis and a mark no JSON, sealed value or header starts with', () => {
    expect(PIECE_BYTES).toBe(64);
    expect(PIECE_MARK).toBe('\x1f');
  });

  it('join a head with its pieces, in order', () => {
    const pieces: Record<number, string> = { 1: 'de', 2: 'fg' };
    expect(joinedValue('\x1f3:abc', (i) => pieces[i])).toBe('abcdefg');
    expect(joinedValue('\x1f1:abc', () => 'never asked')).toBe('abc');
    expect(pieceCount('\x1f3:abc')).toBe(3);
    expect(pieceCount('\x1f12:abc')).toBe(12);
  });

  it('answer a value stored whole as it is, and a head without its count as it is', () => {
    const pieceAt = jest.fn(() => 'x');
    for (const value of ['', '"a"', '[1]', '~sealed', '\x1f', '\x1fx:abc', '\x1f:abc']) {
      expect(joinedValue(value, pieceAt)).toBe(value);
      expect(pieceCount(value)).toBe(1);
    }
    expect(pieceAt).not.toHaveBeenCalled();
  });

  it('answer a head whose piece is missing as the head, which reads as corrupt', () => {
    expect(joinedValue('\x1f3:abc', (i) => (i === 1 ? 'de' : undefined))).toBe('\x1f3:abc');
    expect(joinedValue('\x1f2:abc', () => null)).toBe('\x1f2:abc');
  });

  it('turn a hash into whole values without its piece fields, and leave one with none as it is', () => {
    const plain = { cart: '[1]', ':c': '1' };
    expect(joinPieces(plain)).toBe(plain);
    const held = { ':c': '1', cart: '\x1f3:[1,', ':1:cart': '2,', ':2:cart': '3]', theme: '"dark"', ':1:stale': 'left' };
    expect(joinPieces(held)).toEqual({ ':c': '1', cart: '[1,2,3]', theme: '"dark"' });
  });

  it('join a hash whose only sign of pieces is a stale piece field, or a head alone', () => {
    expect(joinPieces({ a: '1', ':1:a': 'stale' })).toEqual({ a: '1' });
    expect(joinPieces({ a: '\x1f1:\x1fx' })).toEqual({ a: '\x1fx' });
  });

  it('keep a session key named __proto__ a field of the joined record', () => {
    const held: Record<string, string> = { cart: '\x1f2:a', ':1:cart': 'b' };
    Object.defineProperty(held, '__proto__', { value: '\x1f2:c', enumerable: true, writable: true, configurable: true });
    Object.defineProperty(held, ':1:__proto__', { value: 'd', enumerable: true, writable: true, configurable: true });
    const joined = joinPieces(held);
    expect(Object.getPrototypeOf(joined)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(joined, '__proto__')?.value).toBe('cd');
    expect(joined.cart).toBe('ab');
  });

  it("are joined in every hash the gateway reads: HGETALL's object and a script's flat list", () => {
    const whole = { cart: '[1,2]', ':c': '1' };
    expect(asFieldRecord({ cart: '\x1f2:[1,', ':1:cart': '2]', ':c': '1' })).toEqual(whole);
    expect(asFieldRecord(['cart', '\x1f2:[1,', ':c', '1', ':1:cart', '2]'])).toEqual(whole);
  });

  describe('storedPairs', () => {
    /** The pairs as a hash, joined back the way every read joins them. */
    const roundTrip = (field: string, value: string) => joinPieces(Object.fromEntries(chunk(storedPairs(field, value))))[field];
    const chunk = (flat: string[]) => flat.flatMap((item, i) => (i % 2 === 0 ? [[item, flat[i + 1]]] : []));

    it('keep a value of at most 64 bytes whole, counting bytes, not characters', () => {
      expect(storedPairs('cart', 'x'.repeat(64))).toEqual(['cart', 'x'.repeat(64)]);
      expect(storedPairs('cart', '')).toEqual(['cart', '']);
      expect(storedPairs('name', 'é'.repeat(32))).toEqual(['name', 'é'.repeat(32)]); // 64 bytes
      expect(storedPairs('name', 'é'.repeat(33))).toHaveLength(4); // 66 bytes: a head and a piece
    });

    it('cut a longer value into a head of 61 bytes and pieces of 64, the last one shorter', () => {
      const pairs = storedPairs('cart', 'x'.repeat(65));
      expect(pairs).toEqual(['cart', `${PIECE_MARK}2:${'x'.repeat(61)}`, ':1:cart', 'xxxx']);
      const exact = storedPairs('cart', 'x'.repeat(61 + 64));
      expect(exact).toEqual(['cart', `${PIECE_MARK}2:${'x'.repeat(61)}`, ':1:cart', 'x'.repeat(64)]);
    });

    it('give a count of two digits one byte less in the head, and never more than 64 bytes in any piece', () => {
      const value = 'y'.repeat(700);
      const pairs = storedPairs('k', value);
      expect(pairs[1]).toBe(`${PIECE_MARK}11:${'y'.repeat(60)}`);
      expect(pairs).toHaveLength(22);
      for (const item of pairs) expect(Buffer.byteLength(item)).toBeLessThanOrEqual(PIECE_BYTES);
      expect(roundTrip('k', value)).toBe(value);
    });

    it('cut between UTF-8 characters of two, three and four bytes, wherever they fall', () => {
      for (let shift = 0; shift < 4; shift++) {
        const value = 'a'.repeat(shift) + 'é中😀'.repeat(40);
        const pairs = storedPairs('k', value);
        for (const item of pairs) {
          expect(Buffer.byteLength(item)).toBeLessThanOrEqual(PIECE_BYTES);
          expect(item).not.toContain('\ufffd'); // no character cut in two
        }
        expect(roundTrip('k', value)).toBe(value);
      }
    });

    it('store a value that starts with the mark as a head of one piece, however short', () => {
      expect(storedPairs('odd', `${PIECE_MARK}3:abc`)).toEqual(['odd', `${PIECE_MARK}1:${PIECE_MARK}3:abc`]);
      expect(roundTrip('odd', `${PIECE_MARK}3:abc`)).toBe(`${PIECE_MARK}3:abc`);
    });
  });
});
