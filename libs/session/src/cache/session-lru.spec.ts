import { SessionLru, entryBytes, type CachedSession } from './session-lru';

const HOUR = 3_600_000;

/** A session of about `size` characters of data, as Redis would hold it. */
function session(size = 40): CachedSession {
  return { ':c': '1700000000000', ':e': '1800000000000', cart: JSON.stringify('x'.repeat(size)) };
}

describe('entryBytes', () => {
  it('counts two bytes per character of the key, fields and values, plus 160 bytes per entry and 48 per field', () => {
    expect(entryBytes('k', {})).toBe(2 * 1 + 160);
    expect(entryBytes('sess:a', { ':e': '1800000000000' })).toBe(2 * (6 + 2 + 13) + 160 + 48);
    expect(entryBytes('sess:a', { ':e': '1800000000000', cart: '"x"' })).toBe(2 * (6 + 2 + 13 + 4 + 3) + 160 + 2 * 48);
  });
});

describe('SessionLru', () => {
  it('evicts the least recently used entry past maxEntries; a read makes an entry recent', () => {
    const lru = new SessionLru({ maxEntries: 2, maxBytes: 1 << 20, maxAge: HOUR });
    lru.set('a', session(), 0);
    lru.set('b', session(), 0);
    expect(lru.get('a', 1)).toBeDefined(); // a is now the most recent
    lru.set('c', session(), 2);
    expect([lru.has('a'), lru.has('b'), lru.has('c')]).toEqual([true, false, true]);
  });

  it('evicts past maxBytes and counts bytes exactly as entryBytes says, through sets, replacements and deletes', () => {
    const one = entryBytes('k0', session(100));
    const lru = new SessionLru({ maxEntries: 1_000, maxBytes: one * 3, maxAge: HOUR });
    for (let i = 0; i < 5; i++) lru.set(`k${i}`, session(100), 0);
    expect(lru.size).toBe(3);
    expect(lru.bytes).toBe(3 * one);
    expect([lru.has('k0'), lru.has('k1'), lru.has('k4')]).toEqual([false, false, true]);
    lru.set('k4', session(10), 0); // replaced: its old size leaves the count
    lru.delete('k3');
    expect(lru.bytes).toBe(entryBytes('k2', session(100)) + entryBytes('k4', session(10)));
  });

  it('never keeps an entry larger than maxBytes on its own, and leaves the others be', () => {
    const lru = new SessionLru({ maxEntries: 10, maxBytes: 2_000, maxAge: HOUR });
    lru.set('small', session(10), 0);
    lru.set('huge', session(5_000), 0);
    expect(lru.has('huge')).toBe(false);
    expect(lru.has('small')).toBe(true);
  });

  it('keeps an entry of exactly maxBytes: only one larger than the bound is refused', () => {
    const exact = entryBytes('a', session(100));
    const lru = new SessionLru({ maxEntries: 10, maxBytes: exact, maxAge: HOUR });
    lru.set('a', session(100), 0);
    expect(lru.has('a')).toBe(true);
    expect(lru.bytes).toBe(exact);
    lru.set('b', session(100), 0); // as large again: the older one makes room
    expect([lru.has('a'), lru.has('b'), lru.bytes]).toEqual([false, true, exact]);
    lru.set('c', session(101), 0); // one character more, two bytes over the bound: not kept, the others stay
    expect([lru.has('b'), lru.has('c'), lru.bytes]).toEqual([true, false, exact]);
  });

  it('answers from delete whether the key was held: true once, then false, and false for a key never set', () => {
    const lru = new SessionLru({ maxEntries: 10, maxBytes: 1 << 20, maxAge: HOUR });
    lru.set('a', session(), 0);
    expect(lru.delete('never')).toBe(false);
    expect(lru.delete('a')).toBe(true);
    expect(lru.delete('a')).toBe(false);
    expect([lru.size, lru.bytes]).toEqual([0, 0]);
  });

  it('drops an entry once maxAge has passed since it was filled, however often it was read', () => {
    const lru = new SessionLru({ maxEntries: 10, maxBytes: 1 << 20, maxAge: 1_000 });
    lru.set('a', session(), 0);
    expect(lru.get('a', 999)).toBeDefined();
    expect(lru.get('a', 1_000)).toBeUndefined();
    expect(lru.size).toBe(0);
    expect(lru.bytes).toBe(0);
  });

  it("counts an entry's age from when it was filled, on the clock's own scale", () => {
    const filledAt = 1_800_000_000_000; // a real Date.now(), not the epoch
    const lru = new SessionLru({ maxEntries: 10, maxBytes: 1 << 20, maxAge: 1_000 });
    lru.set('a', session(), filledAt);
    expect(lru.get('a', filledAt + 999)).toBeDefined();
    expect(lru.get('a', filledAt + 1_000)).toBeUndefined();
  });

  it.each([
    ['entries', { maxEntries: 5_000, maxBytes: 64 * 1024 * 1024 }],
    ['bytes', { maxEntries: 100_000, maxBytes: 1024 * 1024 }],
  ])('stays within its bound (%s) under 100,000 distinct sessions', (_bound, bounds) => {
    const lru = new SessionLru({ ...bounds, maxAge: HOUR });
    let most = { entries: 0, bytes: 0 };
    for (let i = 0; i < 100_000; i++) {
      lru.set(`sess:${i.toString(36).padStart(43, '0')}`, session(50 + (i % 400)), i);
      if (i % 100 === 0 || i > 99_000) most = { entries: Math.max(most.entries, lru.size), bytes: Math.max(most.bytes, lru.bytes) };
      if (lru.size > bounds.maxEntries || lru.bytes > bounds.maxBytes) throw new Error(`over the bound after ${i + 1} sessions`);
    }
    expect(most.entries).toBeLessThanOrEqual(bounds.maxEntries);
    expect(most.bytes).toBeLessThanOrEqual(bounds.maxBytes);
    expect(lru.size).toBeGreaterThan(0);
    // The newest session is always there: eviction takes the oldest first.
    expect(lru.has(`sess:${(99_999).toString(36).padStart(43, '0')}`)).toBe(true);
  });
});
