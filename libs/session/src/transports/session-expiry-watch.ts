import { FIELD, renewalRecordOf } from '../redis/session-fields';
import type { SessionCore } from '../store/session-core';

/** How long after a renewed ID's last look its key is looked at again, ms: its grace ends by itself. */
const RENEWED_RECHECK_MS = 500;
/** Past the expiry Redis holds, before looking: Redis deletes the key at its expiry, give it that moment. */
const AFTER_EXPIRY_MS = 20;
/** setTimeout's longest delay. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * Notices, on this replica, that a session with sockets here died of a timeout (idle or absolute, or
 * the end of a renewed ID's grace), without keyspace notifications: one timer per session, at the
 * last expiry this replica has seen (a slide moves it later; app code lowering the cookie's maxAge,
 * sooner); when it fires, one read of the key (never a write, never a slide) says whether the session
 * was extended meanwhile (by any replica: the timer moves) or is gone.
 */
export class SessionExpiryWatch {
  private readonly watched = new Map<string, { redisKey: string; at: number; timer: NodeJS.Timeout }>();
  private closed = false;

  constructor(
    private readonly core: SessionCore,
    private readonly expired: (digest: string) => void,
  ) {}

  /**
   * Looks at the session once `expiresAt` (ms), the expiry Redis gave it last, has passed. Sooner than
   * the one watched too: a look at a session extended meanwhile only finds the later expiry and waits.
   */
  watch(digest: string, redisKey: string, expiresAt: number): void {
    const known = this.watched.get(digest);
    if (this.closed || known?.at === expiresAt) return;
    if (known) clearTimeout(known.timer);
    const delay = Math.min(MAX_DELAY_MS, Math.max(0, expiresAt - Date.now()) + AFTER_EXPIRY_MS);
    const timer = setTimeout(() => void this.look(digest, redisKey), delay).unref();
    this.watched.set(digest, { redisKey, at: expiresAt, timer });
  }

  /** Looks at the session at `at` (ms), whatever expiry is known: an ID change makes the old one die sooner. */
  lookAt(digest: string, redisKey: string, at: number): void {
    this.forget(digest);
    this.watch(digest, redisKey, at);
  }

  forget(digest: string): void {
    const known = this.watched.get(digest);
    if (known) clearTimeout(known.timer);
    this.watched.delete(digest);
  }

  close(): void {
    this.closed = true;
    for (const digest of [...this.watched.keys()]) this.forget(digest);
  }

  private async look(digest: string, redisKey: string): Promise<void> {
    this.watched.delete(digest);
    let fields: Awaited<ReturnType<SessionCore['gateway']['readSession']>>;
    try {
      fields = await this.core.gateway.readSession(redisKey);
    } catch {
      // Redis did not answer: look again shortly rather than end sessions that may be alive.
      if (!this.closed) this.watch(digest, redisKey, Date.now() + RENEWED_RECHECK_MS);
      return;
    }
    if (this.closed) return;
    const now = Date.now();
    if (!fields || fields === 'wrongType' || renewalRecordOf(fields) === 'ended') return this.expired(digest);
    if (renewalRecordOf(fields) === 'renewed') return this.watch(digest, redisKey, now + RENEWED_RECHECK_MS);
    const { absoluteTimeout } = this.core.context.slides;
    const deadline = absoluteTimeout > 0 ? Number(fields[FIELD.createdAt]) + absoluteTimeout : Infinity;
    const expiresAt = Math.min(Number(fields[FIELD.expiresAt]) || Infinity, deadline);
    if (expiresAt <= now) return this.expired(digest);
    this.watch(digest, redisKey, Number.isFinite(expiresAt) ? expiresAt : now + MAX_DELAY_MS);
  }
}
