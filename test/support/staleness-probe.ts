import { performance } from 'node:perf_hooks';

/** One trial of the staleness probe: a change made through replica A, watched from replica B. */
export interface StalenessTrial {
  /** Makes the change through replica A; resolves when A has answered. */
  change(): Promise<void>;
  /** One read through replica B: true when it already shows the change. */
  showsChange(): Promise<boolean>;
}

/** Percentiles of one series of ms figures. */
export interface Percentiles {
  p50: number;
  p99: number;
  max: number;
}

/** What the probe saw over every trial. */
export interface StalenessReport {
  trials: number;
  /** Reads on B that began after A answered and still showed the old state: the number the library promises to keep at 0. */
  staleReadsAfterAnswer: number;
  /** Per trial: ms from A's answer to the start of the last read on B that still showed the old state (0 when none did). */
  windowAfterAnswer: Percentiles;
  /** Per trial: ms from sending the change to the start of the first read on B that showed it, answer or not. */
  visibleAfter: Percentiles;
  /** Reads on B, all trials together. */
  reads: number;
}

/** Reads of one trial past A's answer before the probe gives up: a change that never shows is a failure, not a window. */
const MAX_READS_AFTER_ANSWER = 10_000;

/**
 * The staleness window of a replicated cache, measured as a user would meet it: replica A changes or
 * deletes a session while replica B reads it in a tight loop (one read at a time). Every read that
 * starts once A has answered must show the change; the report counts those that did not and how long
 * after the answer the last of them started. `prepare` sets up each trial (a fresh session, read once
 * through B so B's cache holds it).
 */
export async function probeStaleness(trials: number, prepare: (trial: number) => Promise<StalenessTrial>): Promise<StalenessReport> {
  const windows: number[] = [];
  const visible: number[] = [];
  let stale = 0;
  let reads = 0;
  for (let i = 0; i < trials; i++) {
    const trial = await prepare(i);
    const sentAt = performance.now();
    let answeredAt: number | undefined;
    let lastStaleAfterAnswer: number | undefined;
    let firstVisible: number | undefined;
    const changing = trial.change().then(() => {
      answeredAt = performance.now();
    });
    const watching = (async () => {
      let afterAnswer = 0;
      for (;;) {
        const startedAt = performance.now();
        const answered = answeredAt !== undefined && startedAt >= answeredAt;
        const shows = await trial.showsChange();
        reads++;
        if (shows) firstVisible ??= startedAt;
        if (!answered) continue;
        if (!shows) {
          stale++;
          lastStaleAfterAnswer = startedAt;
        } else return;
        if (++afterAnswer > MAX_READS_AFTER_ANSWER) throw new Error(`trial ${i}: replica B still showed the old state after ${afterAnswer} reads`);
      }
    })();
    await Promise.all([changing, watching]);
    windows.push(lastStaleAfterAnswer === undefined ? 0 : lastStaleAfterAnswer - answeredAt!);
    visible.push(firstVisible! - sentAt);
  }
  return { trials, staleReadsAfterAnswer: stale, windowAfterAnswer: percentiles(windows), visibleAfter: percentiles(visible), reads };
}

export function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? NaN };
}
