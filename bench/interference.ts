import { readFileSync } from 'node:fs';

/** CPU time (Linux jiffies) of the whole machine and of the bench's own processes at one moment. */
export interface CpuSnapshot {
  at: number;
  busy: number;
  mine: number;
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** Undefined where /proc is missing (not Linux): the figure is then left out. */
export function cpuSnapshot(pids: number[]): CpuSnapshot | undefined {
  try {
    // cpu  user nice system idle iowait irq softirq steal ...
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + (fields[7] ?? 0);
    let mine = 0;
    for (const pid of pids) {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const after = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
      mine += Number(after[11]) + Number(after[12]); // utime, stime
    }
    return { at: Date.now(), busy, mine };
  } catch {
    return undefined;
  }
}

/**
 * Cores that processes other than the bench's kept busy between two snapshots: on a shared machine,
 * the figure that says how far a run can be trusted.
 */
export function otherCores(before: CpuSnapshot | undefined, after: CpuSnapshot | undefined): number | undefined {
  if (!before || !after || after.at <= before.at) return undefined;
  const seconds = (after.at - before.at) / 1_000;
  return Math.max(0, (after.busy - before.busy - (after.mine - before.mine)) / TICKS_PER_SECOND / seconds);
}

/** CPU time a process has used so far (user + system), in ms; undefined where /proc is missing. */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(after[11]) + Number(after[12])) * 1_000) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/**
 * Waits (within a budget shared by the whole run) until processes other than the bench use less than
 * `threshold` cores, sampling once a second: on a shared machine, measuring while others run
 * measures them too. Returns the milliseconds waited.
 */
export class QuietWaiter {
  private spentMs = 0;

  constructor(
    private readonly budgetMs: number,
    readonly threshold = 0.25,
  ) {}

  get exhausted(): boolean {
    return this.spentMs >= this.budgetMs;
  }

  async wait(pids: () => number[], maxMs: number): Promise<number> {
    const started = Date.now();
    while (!this.exhausted && Date.now() - started < maxMs) {
      const before = cpuSnapshot(pids());
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const other = otherCores(before, cpuSnapshot(pids()));
      if (other === undefined || other < this.threshold) break;
    }
    const waited = Date.now() - started;
    this.spentMs += waited;
    return waited;
  }
}
