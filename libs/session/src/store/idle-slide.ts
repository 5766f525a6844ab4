/**
 * When a read slides a session's idle timeout. Sliding is a write, and every write costs Redis CPU
 * and (with a near cache) every other replica its copy, so a read slides only once the slide would
 * move the expiry forward by at least `touchAfter`; until then the read writes nothing. A session
 * then expires between `window - touchAfter` and `window` after its last request.
 */
export interface IdleSlidePolicy {
  /** The idle window, ms: the persistent cookie's maxAge, else the idle timeout (the same value). */
  window: number;
  /** Ms the expiry must gain before a read writes it; 0 slides on every read. */
  touchAfter: number;
  /** Ms after creation after which a session is dead; 0 for none. */
  absoluteTimeout: number;
}

/** What the decision needs to know of one session, all ms. */
export interface SessionTimes {
  now: number;
  createdAt: number;
  /** The expiry Redis holds (the hash's expiry field); undefined for a session written before that field existed. */
  expiresAt: number | undefined;
  /** The cookie's own maxAge, when it has one: the session's window instead of the policy's. */
  cookieMaxAge: unknown;
}

/**
 * The expiry a slide at `times.now` gives the session, when one is due; undefined when the read
 * should write nothing. Never past the absolute deadline, so a session near it stops sliding.
 */
export function dueSlide(policy: IdleSlidePolicy, times: SessionTimes): number | undefined {
  const { now, createdAt, expiresAt, cookieMaxAge } = times;
  let target = Math.floor(now + windowOf(policy, cookieMaxAge)); // whole ms: what PEXPIREAT takes
  if (policy.absoluteTimeout > 0) target = Math.min(target, createdAt + policy.absoluteTimeout);
  if (target <= now) return undefined; // past the deadline: nothing to slide
  return slideGainsEnough(policy, expiresAt, target, cookieMaxAge) ? target : undefined;
}

/**
 * Whether moving a session's expiry from `previous` (undefined: not known) to `next` is worth a
 * write: it gains at least `touchAfter`. A cookie with a shorter window of its own waits
 * proportionally less, so it never expires while in use.
 */
export function slideGainsEnough(policy: IdleSlidePolicy, previous: number | undefined, next: number, cookieMaxAge: unknown): boolean {
  if (previous === undefined) return true;
  return next - previous >= slideLag(policy, cookieMaxAge);
}

/**
 * The ms a session's expiry must gain before a write moves it: `touchAfter`, or proportionally less
 * for a cookie with a shorter window of its own. Writes send it to Redis (`minGain`), which compares
 * it with the expiry it holds: a change inside `touchAfter` then leaves the expiry alone.
 */
export function slideLag(policy: IdleSlidePolicy, cookieMaxAge: unknown): number {
  const window = windowOf(policy, cookieMaxAge);
  return window < policy.window ? policy.touchAfter * (window / policy.window) : policy.touchAfter;
}

/**
 * Whether a write with `minGain` moves an expiry held at `held` (undefined: not known) to `next`:
 * the same decision the write scripts make on the expiry Redis holds.
 */
export function expiryMoves(held: number | undefined, next: number, minGain: number): boolean {
  if (held === undefined) return true;
  return minGain === 0 ? next !== held : next - held >= minGain;
}

/** The session's idle window: its cookie's own maxAge when it has a sound one, else the policy's. */
function windowOf(policy: IdleSlidePolicy, cookieMaxAge: unknown): number {
  return typeof cookieMaxAge === 'number' && Number.isFinite(cookieMaxAge) && cookieMaxAge > 0 ? cookieMaxAge : policy.window;
}

/** True when a session created at `createdAt` is past its absolute deadline at `now`. */
export function pastDeadline(policy: IdleSlidePolicy, createdAt: number, now: number): boolean {
  return policy.absoluteTimeout > 0 && createdAt + policy.absoluteTimeout <= now;
}
