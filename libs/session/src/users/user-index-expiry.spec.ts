import { INDEX_EXPIRY_STEP, indexExpiryFor, indexExpiryOnJoin, indexPushDue } from './user-index-expiry';

const DAY = INDEX_EXPIRY_STEP;
const START = 20_000 * DAY; // the start of a step

describe('user index expiry without an absolute timeout', () => {
  it('outlives the member by a whole spare step', () => {
    for (const expiry of [START, START + 1, START + DAY - 1]) {
      expect(indexExpiryFor(expiry)).toBe(START + 2 * DAY);
      expect(indexExpiryFor(expiry)).toBeGreaterThan(expiry + DAY - 1);
    }
  });

  it('is pushed when a member expiry enters a later step, or was not known', () => {
    expect(indexPushDue(0, START, START + DAY - 1)).toBe(false);
    expect(indexPushDue(0, START + DAY - 1, START + DAY)).toBe(true);
    expect(indexPushDue(0, START + DAY, START)).toBe(false); // moved earlier: the index outlives it already
    expect(indexPushDue(0, undefined, START)).toBe(true);
  });

  it('moves in steps of a calendar day (UTC): a member sliding within one day pushes nothing, about one push a day', () => {
    const midnight = Date.UTC(2026, 11, 7);
    expect(indexExpiryFor(midnight + 3_600_000)).toBe(midnight + 2 * 86_400_000);
    expect(indexPushDue(0, midnight + 3_600_000, midnight + 23 * 3_600_000)).toBe(false);
    expect(indexPushDue(0, midnight + 23 * 3_600_000, midnight + 25 * 3_600_000)).toBe(true);
  });

  it('covers a member whose one push failed: the next step is still within the index expiry', () => {
    const pushedAt = indexExpiryFor(START + 5); // pushed when the member entered this step
    const nextStepExpiry = START + 2 * DAY - 1; // the next push, into this step, failed
    expect(pushedAt).toBeGreaterThan(nextStepExpiry);
  });
});

describe('user index expiry with an absolute timeout', () => {
  it('outlives the joining member deadline, and is never pushed on slides', () => {
    // The joining member's deadline and a minute: not the day steps, which would keep it up to two days.
    expect(indexExpiryOnJoin(12 * 3_600_000, START, START + 1_800_000)).toBe(START + 12 * 3_600_000 + 60_000);
    expect(indexPushDue(12 * 3_600_000, undefined, START)).toBe(false);
  });

  it('without one, follows the member expiry on join', () => {
    expect(indexExpiryOnJoin(0, START, START + 5)).toBe(indexExpiryFor(START + 5));
  });
});
