import { CallDeadlines } from './call-deadlines';

describe('CallDeadlines', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  it('expires an unanswered call once its time has passed, within the granularity, and never an answered one', () => {
    const deadlines = new CallDeadlines(1_000, 50);
    const expired: string[] = [];
    deadlines.start(() => expired.push('first'));
    const answered = deadlines.start(() => expired.push('answered'));
    jest.advanceTimersByTime(400);
    deadlines.start(() => expired.push('later'));
    answered.settled = true;
    jest.advanceTimersByTime(599); // 999 ms after the first call
    expect(expired).toEqual([]);
    jest.advanceTimersByTime(51); // its deadline plus the granularity
    expect(expired).toEqual(['first']);
    jest.advanceTimersByTime(399); // 'later' started at 400: its deadline is 1,400, plus 50
    expect(expired).toEqual(['first']);
    jest.advanceTimersByTime(1);
    expect(expired).toEqual(['first', 'later']);
    expect(deadlines.size).toBe(0);
  });

  it('runs no timer while nothing is pending', () => {
    const deadlines = new CallDeadlines(1_000, 50);
    deadlines.start(() => undefined).settled = true;
    jest.advanceTimersByTime(1_100);
    expect(jest.getTimerCount()).toBe(0);
  });
});
