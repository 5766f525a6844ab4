import { isSealedField, renewalRecordOf } from '../redis/session-fields';
import { UnopenableSessionError, openField } from './session-codec';
import type { SessionCore } from './session-core';

/** What `SessionService.reseal()` did. */
export interface ResealReport {
  /** Live sessions looked at. */
  sessions: number;
  /** Values rewritten under the newest key (sealed under an older one, or plaintext under `acceptPlaintext`). */
  resealed: number;
  /** Values a request changed while they were being resealed, left as it wrote them: run `reseal()` again to pick them up. */
  changed: number;
  /**
   * Sessions with a value no key opens (copied from another session, or sealed under a key since
   * removed): that value is left as it is and reads as absent, as it does on a request; the session's
   * other values are resealed.
   */
  unopenable: number;
}

/** Sessions resealed at once: enough to keep Redis busy, few enough not to crowd out requests. */
const CONCURRENCY = 16;

/**
 * Rewrites, in place, every value not sealed under the newest key, for a key rotation without
 * downtime. Each value is written by a compare-and-set on the exact string read, so a request that
 * changed it meanwhile keeps its change; the expiry is left as it is (the compare-and-set is given no
 * new one) and nothing else of the session is touched. Safe to run while the app serves, and again.
 */
export async function resealSessions(core: SessionCore): Promise<ResealReport> {
  const report: ResealReport = { sessions: 0, resealed: 0, changed: 0, unopenable: 0 };
  const digests = await core.admin.digests();
  for (let i = 0; i < digests.length; i += CONCURRENCY) {
    await Promise.all(digests.slice(i, i + CONCURRENCY).map((digest) => resealOne(core, core.context.redisKeyOfDigest(digest), report)));
  }
  return report;
}

async function resealOne(core: SessionCore, redisKey: string, report: ResealReport): Promise<void> {
  const { sealing } = core.context;
  const sealer = sealing.sealer!;
  const { gateway } = core;
  // A plain read, as every read is: it slides nothing and stamps no last-seen time.
  const fields = await gateway.readSession(redisKey);
  // A renewed ID's pointer or a destroyed session's tombstone holds no sealed value; a claimed key is resealed under its successor.
  if (!fields || fields === 'wrongType' || renewalRecordOf(fields) !== 'session') return;
  report.sessions++;
  const stale: { field: string; held: string; plaintext: string }[] = [];
  let unopenable = false;
  for (const field of Object.keys(fields)) {
    const held = fields[field];
    if (!isSealedField(field) || !sealer.isStale(held)) continue;
    try {
      stale.push({ field, held, plaintext: openField({ sealer, redisKey }, field, held) });
    } catch (error) {
      if (!(error instanceof UnopenableSessionError)) throw error;
      // One value that does not open leaves the session serving without it: the others still move on.
      if (!unopenable) sealing.ignoreUnopenable(redisKey, error.message);
      unopenable = true;
    }
  }
  if (unopenable) report.unopenable++;
  for (const { field, held, plaintext } of stale) {
    // expiresAt 0: the compare-and-set moves no expiry, so a session slid meanwhile keeps its later one.
    const reply = await gateway.compareAndSet({
      redisKey,
      field,
      expected: held,
      next: sealer.seal(redisKey, field, plaintext),
      expiresAt: 0,
      now: Date.now(),
    });
    if (reply.status === 'gone') return;
    if (reply.status === 'written') report.resealed++;
    else report.changed++;
  }
}
