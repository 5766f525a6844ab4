import { dueSlide, expiryMoves, pastDeadline, slideLag, type IdleSlidePolicy } from './idle-slide';

const NOW = Date.UTC(2030, 0, 1);
const WINDOW = 30 * 60_000;
const policy: IdleSlidePolicy = { window: WINDOW, touchAfter: 60_000, absoluteTimeout: 0 };

describe('dueSlide', () => {
  const read = (expiresAt: number | undefined, more: Partial<{ createdAt: number; cookieMaxAge: unknown }> = {}) => ({
    now: NOW,
    createdAt: NOW - 1_000,
    expiresAt,
    cookieMaxAge: null,
    ...more,
  });

  it('slides nothing until the expiry would gain touchAfter, then to the full window', () => {
    expect(dueSlide(policy, read(NOW + WINDOW))).toBeUndefined(); // just written
    expect(dueSlide(policy, read(NOW + WINDOW - 59_999))).toBeUndefined();
    expect(dueSlide(policy, read(NOW + WINDOW - 60_000))).toBe(NOW + WINDOW);
    expect(dueSlide(policy, read(NOW + 1))).toBe(NOW + WINDOW);
  });

  it('slides on every read with touchAfter 0, and a session without expiry field at once', () => {
    expect(dueSlide({ ...policy, touchAfter: 0 }, read(NOW + WINDOW - 1))).toBe(NOW + WINDOW);
    expect(dueSlide(policy, read(undefined))).toBe(NOW + WINDOW);
  });

  it('never slides past the absolute deadline, and stops sliding near it', () => {
    const absolute = { ...policy, absoluteTimeout: 2 * WINDOW };
    const createdAt = NOW - 2 * WINDOW + 10 * 60_000; // deadline in 10 min
    expect(dueSlide(absolute, read(NOW + 60_000, { createdAt }))).toBe(createdAt + 2 * WINDOW);
    expect(dueSlide(absolute, read(createdAt + 2 * WINDOW - 30_000, { createdAt }))).toBeUndefined(); // would gain 30 s only
    expect(dueSlide(absolute, read(NOW + 60_000, { createdAt: NOW - 2 * WINDOW }))).toBeUndefined(); // past it
  });

  it("takes the cookie's own maxAge as the window, a shorter one waiting proportionally less", () => {
    const maxAge = WINDOW / 10; // 3 min: waits 6 s, not 60
    expect(dueSlide(policy, read(NOW + maxAge - 5_999, { cookieMaxAge: maxAge }))).toBeUndefined();
    expect(dueSlide(policy, read(NOW + maxAge - 6_000, { cookieMaxAge: maxAge }))).toBe(NOW + maxAge);
    const longer = 30 * 24 * 60 * 60_000;
    expect(dueSlide(policy, read(NOW + longer - 60_000, { cookieMaxAge: longer }))).toBe(NOW + longer);
    expect(dueSlide(policy, read(NOW + 1, { cookieMaxAge: Number.NaN }))).toBe(NOW + WINDOW); // nonsense: the policy's window
  });

  it('takes the policy window for a cookie maxAge of 0, of Infinity or that is not a number', () => {
    for (const cookieMaxAge of [0, -1, Infinity, '60000', null])
      expect([cookieMaxAge, dueSlide(policy, read(undefined, { cookieMaxAge }))]).toEqual([cookieMaxAge, NOW + WINDOW]);
  });

  it('slides to a whole ms when the cookie maxAge has a fraction (what PEXPIREAT takes)', () => {
    expect(dueSlide(policy, read(undefined, { cookieMaxAge: 90_000.75 }))).toBe(NOW + 90_000);
  });

  it('slides nothing at or past the absolute deadline, even a session without an expiry field', () => {
    const absolute = { ...policy, absoluteTimeout: 2 * WINDOW };
    expect(dueSlide(absolute, read(undefined, { createdAt: NOW - 2 * WINDOW }))).toBeUndefined(); // the deadline is now
    expect(dueSlide(absolute, read(undefined, { createdAt: NOW - 2 * WINDOW - 1 }))).toBeUndefined();
    expect(dueSlide(absolute, read(undefined, { createdAt: NOW - 2 * WINDOW + 1 }))).toBe(NOW + 1);
  });
});

describe('slideLag', () => {
  it('is touchAfter for the policy window or a longer cookie, proportionally less for a shorter one', () => {
    expect(slideLag(policy, null)).toBe(60_000);
    expect(slideLag(policy, WINDOW)).toBe(60_000);
    expect(slideLag(policy, 2 * WINDOW)).toBe(60_000);
    expect(slideLag(policy, WINDOW / 4)).toBe(15_000);
  });
});

describe('expiryMoves', () => {
  it('moves an expiry not known, whatever the gain asked', () => {
    expect(expiryMoves(undefined, NOW, 60_000)).toBe(true);
    expect(expiryMoves(undefined, NOW, 0)).toBe(true);
  });

  it('with minGain 0 (an exact write), moves any expiry that differs, earlier too, and not one that is the same', () => {
    expect(expiryMoves(NOW, NOW + 1, 0)).toBe(true);
    expect(expiryMoves(NOW, NOW - 1, 0)).toBe(true);
    expect(expiryMoves(NOW, NOW, 0)).toBe(false);
  });

  it('with a minGain, moves only an expiry that gains at least that much', () => {
    expect(expiryMoves(NOW, NOW + 60_000, 60_000)).toBe(true);
    expect(expiryMoves(NOW, NOW + 59_999, 60_000)).toBe(false);
    expect(expiryMoves(NOW, NOW + 1, 60_000)).toBe(false);
  });
});

describe('pastDeadline', () => {
  it('is true from the absolute deadline on, never without an absolute timeout', () => {
    expect(pastDeadline({ ...policy, absoluteTimeout: 1_000 }, NOW - 1_000, NOW)).toBe(true);
    expect(pastDeadline({ ...policy, absoluteTimeout: 1_000 }, NOW - 999, NOW)).toBe(false);
    expect(pastDeadline(policy, 0, NOW)).toBe(false);
  });
});
