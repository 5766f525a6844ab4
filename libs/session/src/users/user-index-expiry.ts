/*
 * When a user's index may expire. It must outlive every live member, or "log out everywhere" would
 * miss a session. With an absolute timeout that is simple: each join pushes the index's expiry past
 * the newest member's deadline, and no member outlives its deadline. Without one, a member lives as
 * long as it keeps sliding, and on a cluster the index cannot ride in the member's own script (another
 * slot). So the index's expiry moves in steps of a day: a join sets it to the end of the step after
 * the one its session's expiry falls in, and a write that moves a member's expiry into a later step
 * pushes it again, with one small command of its own, about once a day per active session. The
 * spare step covers one push that failed.
 */

/** The step of a user index's expiry without an absolute timeout. */
export const INDEX_EXPIRY_STEP = 24 * 60 * 60_000; // 1 day

/** How much longer than its newest member's absolute deadline an index lives, with an absolute timeout. */
const DEADLINE_MARGIN = 60_000; // 1 min

/** The expiry a user index needs for a member that expires at `sessionExpiresAt` (no absolute timeout). */
export function indexExpiryFor(sessionExpiresAt: number): number {
  return (Math.floor(sessionExpiresAt / INDEX_EXPIRY_STEP) + 2) * INDEX_EXPIRY_STEP;
}

/** The expiry a user index needs when a member joins at `now`. */
export function indexExpiryOnJoin(absoluteTimeout: number, now: number, sessionExpiresAt: number): number {
  return absoluteTimeout > 0 ? now + absoluteTimeout + DEADLINE_MARGIN : indexExpiryFor(sessionExpiresAt);
}

/**
 * Whether moving a member's expiry from `previous` (undefined: not known) to `next` must push its
 * index's expiry: only without an absolute timeout, and only into a later step.
 */
export function indexPushDue(absoluteTimeout: number, previous: number | undefined, next: number): boolean {
  if (absoluteTimeout > 0) return false;
  return previous === undefined || Math.floor(next / INDEX_EXPIRY_STEP) > Math.floor(previous / INDEX_EXPIRY_STEP);
}
