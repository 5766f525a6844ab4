import { performance } from 'node:perf_hooks';

/** One request of a load run: when it started (ms since the run began), how long it took, its answer. */
export interface Sample {
  at: number;
  ms: number;
  /** HTTP status, or 0 when there was no answer (connection refused or cut). */
  status: number;
  label: string;
}

export interface Load {
  /** Ms since the load started, on the same clock as `Sample.at`. */
  now(): number;
  samples: Sample[];
  /** Stops issuing requests and waits for those in flight. */
  stop(): Promise<Sample[]>;
}

/**
 * Runs `concurrency` loops, each sending one request after the other (`request(i)` resolves to
 * `[status, label]`), until stopped or `maxRequests` were sent. Bounded in count, 127.0.0.1 only.
 */
export function startLoad(options: {
  concurrency: number;
  maxRequests: number;
  request: (n: number) => Promise<{ status: number; label: string }>;
  pauseMs?: number;
}): Load {
  const start = performance.now();
  const now = () => performance.now() - start;
  const samples: Sample[] = [];
  let sent = 0;
  let stopped = false;
  const loop = async () => {
    while (!stopped && sent < options.maxRequests) {
      const n = sent++;
      const at = now();
      let answer: { status: number; label: string };
      try {
        answer = await options.request(n);
      } catch (error) {
        answer = { status: 0, label: String((error as Error)?.message ?? error) };
      }
      samples.push({ at, ms: now() - at, status: answer.status, label: answer.label });
      if (options.pauseMs) await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
    }
  };
  const loops = Array.from({ length: options.concurrency }, loop);
  return {
    now,
    samples,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return samples;
    },
  };
}

/** What a fault did to a load, for the report: the figures the issue asks for. */
export interface FaultFigures {
  requests: number;
  failed: number;
  statuses: Record<string, number>;
  /** Ms from the fault to the end of the last failed request (0 when none failed). */
  windowMs: number;
  /** The slowest answer, ms. */
  maxMs: number;
  /** Answers slower than the bound, with their status. */
  slow: { at: number; ms: number; status: number; label: string }[];
}

/** Sums up the samples of a load around a fault at `faultAt` (same clock), with `boundMs` as the slowest acceptable answer. */
export function figuresOf(samples: Sample[], faultAt: number, boundMs: number, isFailure = (s: Sample) => s.status === 0 || s.status >= 500): FaultFigures {
  const failures = samples.filter(isFailure);
  const statuses: Record<string, number> = {};
  for (const sample of failures) statuses[sample.status] = (statuses[sample.status] ?? 0) + 1;
  const lastFailureEnd = Math.max(faultAt, ...failures.map((s) => s.at + s.ms));
  return {
    requests: samples.length,
    failed: failures.length,
    statuses,
    windowMs: failures.length ? Math.round(lastFailureEnd - faultAt) : 0,
    maxMs: Math.round(Math.max(0, ...samples.map((s) => s.ms))),
    slow: samples.filter((s) => s.ms > boundMs).map((s) => ({ at: Math.round(s.at - faultAt), ms: Math.round(s.ms), status: s.status, label: s.label })),
  };
}
