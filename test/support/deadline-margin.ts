/**
 * What "answered within `redisDeadline`" means in a test: the deadline plus this margin. The guarantee
 * is the deadline; the margin is what a loaded two-core CI machine, running a jest worker, Redis
 * servers and the apps at once, can be trusted to hold. How close to the deadline the answers really
 * come is measured, not asserted: `npm run bench -- --only=outage`.
 */
export const DEADLINE_MARGIN_MS = 1_000;

/** The library's default `redisDeadline`, restated so a changed default shows up here. */
export const DEFAULT_REDIS_DEADLINE_MS = 1_000;
