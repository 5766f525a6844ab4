/** How late Redis's `expired` notifications came after the keys' TTLs ran out, in ms. */
export interface ExpiryDelays {
  count: number;
  p50: number;
  p90: number;
  max: number;
}

/**
 * Summarizes `delays` (event time minus the key's PEXPIRETIME, both ms since the epoch). A figure to
 * report, never to assert: Redis deletes expired keys in a background cycle and on access, so the
 * delay depends on the load and on how many keys are due.
 */
export function summarizeExpiryDelays(delays: number[]): ExpiryDelays {
  const sorted = [...delays].sort((x, y) => x - y);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { count: sorted.length, p50: at(0.5), p90: at(0.9), max: sorted[sorted.length - 1] };
}

export function describeExpiryDelays(label: string, delays: ExpiryDelays): string {
  return `${label}: expired events ${delays.p50} ms (p50), ${delays.p90} ms (p90), ${delays.max} ms (max) after the TTL, over ${delays.count} sessions`;
}
