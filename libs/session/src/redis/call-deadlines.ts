/** One pending call's deadline: `settle` marks it answered, so the expiry skips it. */
export interface Deadline {
  settled: boolean;
  readonly at: number;
  readonly expire: () => void;
}

/**
 * Deadlines of the Redis calls of one gateway, all of the same length, so they expire in the order
 * they were set: a FIFO queue and ONE timer serve them all, instead of a timer armed and cleared per
 * call. The timer fires at most `granularity` ms late and only runs while calls are pending.
 */
export class CallDeadlines {
  private queue: Deadline[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;

  /**
   * @param timeout ms each call may take
   * @param granularity ms by which an expiry may come late; coarser means fewer wake-ups
   */
  constructor(
    private readonly timeout: number,
    private readonly granularity = Math.max(5, Math.min(50, Math.floor(timeout / 20))), // 5–50 ms: 50 ms for 1 s
  ) {}

  /** Starts a deadline; `expire` runs once it passes unless the caller set `settled` first. */
  start(expire: () => void): Deadline {
    const deadline: Deadline = { settled: false, at: Date.now() + this.timeout, expire };
    this.queue.push(deadline);
    if (!this.timer) this.arm(this.timeout);
    return deadline;
  }

  /** How many deadlines are queued, answered or not (for tests: the queue drains as they pass). */
  get size(): number {
    return this.queue.length - this.head;
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => this.expireDue(), ms + this.granularity);
    this.timer.unref(); // a pending deadline never keeps the process alive by itself
  }

  private expireDue(): void {
    this.timer = undefined;
    const now = Date.now();
    const queue = this.queue;
    while (this.head < queue.length && (queue[this.head].settled || queue[this.head].at <= now)) {
      const deadline = queue[this.head++];
      if (!deadline.settled) {
        deadline.settled = true;
        deadline.expire();
      }
    }
    if (this.head === queue.length) {
      this.queue = [];
      this.head = 0;
      return;
    }
    if (this.head > 1024 && this.head * 2 > queue.length) {
      this.queue = queue.slice(this.head); // compact now and then, not on every expiry
      this.head = 0;
    }
    this.arm(Math.max(0, this.queue[this.head].at - now));
  }
}
