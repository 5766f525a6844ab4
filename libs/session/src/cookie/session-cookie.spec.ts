import { SessionCookie } from './session-cookie';

/** The cookie of a request's session (session-cookie.ts): express-session's Cookie, made exact and forgiving. */
describe('SessionCookie', () => {
  afterEach(() => jest.restoreAllMocks());

  /** A clock that moves on by a millisecond each time it is read, as a busy machine's does between two reads. */
  function tickingClock(start = 1_800_000_000_000) {
    let now = start;
    jest.spyOn(Date, 'now').mockImplementation(() => now++);
  }

  it('keeps the maxAge it was given as its originalMaxAge, though the clock moved while it was built', () => {
    tickingClock();
    // express-session reads originalMaxAge back from the expiry it set: 59,999 here, and a session whose
    // settings then differ from the module's template stores them in Redis.
    expect(new SessionCookie({ maxAge: 60_000, path: '/' }).originalMaxAge).toBe(60_000);
  });

  it('keeps the maxAge set afterwards as its originalMaxAge, as touch() sets it on every request, the clock moving meanwhile', () => {
    const cookie = new SessionCookie({ maxAge: 60_000 });
    tickingClock();
    for (let i = 0; i < 3; i++) cookie.maxAge = cookie.originalMaxAge!; // express-session's resetMaxAge
    expect(cookie.originalMaxAge).toBe(60_000);
    cookie.maxAge = 5_000; // app code's own window
    expect(cookie.originalMaxAge).toBe(5_000);
  });

  it('keeps an originalMaxAge given with the settings, and none for a cookie that lasts the browser session', () => {
    tickingClock();
    expect(new SessionCookie({ maxAge: 5_000, originalMaxAge: 60_000 }).originalMaxAge).toBe(60_000);
    expect(new SessionCookie({ path: '/' }).originalMaxAge).toBeNull();
    expect(new SessionCookie().originalMaxAge).toBeNull();
  });

  it('leaves an invalid maxAge set by app code as an invalid expiry, not a throw', () => {
    const cookie = new SessionCookie({ maxAge: 60_000 });
    expect(() => ((cookie as unknown as { maxAge: unknown }).maxAge = '1 hour')).not.toThrow();
    expect(cookie.expires?.valueOf()).toBeNaN();
  });
});
