import { activityRedisKeys } from '../redis/redis-keys';
import type { SessionGateway } from '../redis/session-gateway';

/** Settings of `ActiveSessions`; the module derives them from the session options. */
export interface ActiveSessionsOptions {
  prefix: string;
  /** Ms: a session counts as active when used within this window (the idle timeout). */
  window: number;
  /** Ms between two flushes of what this replica saw. @default 5_000 */
  flushInterval?: number;
  logger: { warn(message: string): void };
}

/** Members a replica collects before it flushes early, so its memory stays bounded under any load. */
const FLUSH_AT_MEMBERS = 1_000;

/**
 * Estimates, across every replica and without SCAN, how many sessions (and logged-in users) were used
 * within the idle timeout. Each replica collects the digests and user ids its requests touched and
 * adds them every few seconds, in one script call, to HyperLogLogs of the current time bucket; a
 * scrape merges the buckets that cover the window with one PFCOUNT each.
 *
 * Why not inside the read script: on Redis Cluster a script may touch keys of one slot only, and
 * sessions are spread over all slots while PFCOUNT can merge only keys of one slot. So the request
 * path sends nothing more (the read stays one round trip, a visitor without a cookie costs nothing),
 * and the cost is one command per replica per flush.
 *
 * Error bound: HyperLogLog's standard error is 0.81%. The window is counted in whole buckets (1/30
 * of the idle timeout, from 1 s to 1 min), so sessions idle up to one bucket longer than the timeout
 * still count, and sessions used in the last `flushInterval` on other replicas are not counted yet.
 * Sessions that ended (logout) within the window still count: this is "used", not "alive".
 */
export class ActiveSessions {
  readonly bucket: number;
  private digests = new Set<string>();
  private userIds = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private counting: Promise<{ sessions: number; users: number }> | undefined;
  private warned = false;

  constructor(
    private readonly gateway: SessionGateway,
    private readonly options: ActiveSessionsOptions,
  ) {
    this.bucket = Math.min(60_000, Math.max(1_000, Math.round(options.window / 30)));
  }

  /** Starts the periodic flush; the timer never keeps the process alive. */
  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.options.flushInterval ?? 5_000).unref();
  }

  /** Stops the flush timer and sends what is left. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  note(digest: string, userId: string | undefined): void {
    this.digests.add(digest);
    if (userId !== undefined) this.userIds.add(userId);
    if (this.digests.size >= FLUSH_AT_MEMBERS) void this.flush();
  }

  /** Adds what this replica saw to the current bucket. A failed flush drops its batch: an estimate may. */
  async flush(now = Date.now()): Promise<void> {
    if (this.digests.size === 0) return;
    const digests = [...this.digests];
    const userIds = [...this.userIds];
    this.digests.clear();
    this.userIds.clear();
    const keys = activityRedisKeys(this.options.prefix, this.bucketOf(now));
    try {
      await this.gateway.addActivity({ sessionsKey: keys.sessions, usersKey: keys.users, ttl: this.options.window + 2 * this.bucket, digests, userIds });
    } catch (error) {
      if (!this.warned) this.options.logger.warn(`Could not record active sessions (metrics only): ${(error as Error)?.message}`);
      this.warned = true;
    }
  }

  /** Sessions and users used within the window, after flushing this replica's own; one count at a time. */
  count(now = Date.now()): Promise<{ sessions: number; users: number }> {
    this.counting ??= this.countNow(now).finally(() => (this.counting = undefined));
    return this.counting;
  }

  private async countNow(now: number): Promise<{ sessions: number; users: number }> {
    await this.flush(now);
    const buckets: { sessions: string; users: string }[] = [];
    for (let start = this.bucketOf(now - this.options.window); start <= now; start += this.bucket) {
      buckets.push(activityRedisKeys(this.options.prefix, start));
    }
    const [sessions, users] = await Promise.all([
      this.gateway.countDistinct(buckets.map((keys) => keys.sessions)),
      this.gateway.countDistinct(buckets.map((keys) => keys.users)),
    ]);
    return { sessions, users };
  }

  private bucketOf(time: number): number {
    return time - (time % this.bucket);
  }
}
