import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';

/** Requests at a fixed rate, whatever the app's speed (an open loop): the latency section's load. */
export interface PacedJob {
  port: number;
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  /** Cookie headers handed out round-robin, one per request. */
  cookies: string[];
  /** Requests per second. */
  rate: number;
  /** Seconds. */
  duration: number;
  /** Keep-alive connections at most; a request waits for a free one when all are busy. */
  connections: number;
}

export interface PacedResult {
  requests: number;
  ok: number;
  errors: number;
  /** Latency from the request's send to its answer's end, ms, at µs precision. */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Requests per second actually sent (below `rate` when the loader fell behind). */
  sentRate: number;
}

/**
 * Sends `rate` requests per second for `duration` seconds: request i is due at i / rate s from the
 * start, and every request due is sent whenever the loader wakes (timers fire to the ms, so a few
 * may leave together). autocannon keeps latencies in whole milliseconds; these are kept at the µs.
 */
export async function runPaced(job: PacedJob): Promise<PacedResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: job.connections });
  const headers: Record<string, string> = job.body ? { 'content-type': 'application/json' } : {};
  const latencies: number[] = [];
  let ok = 0;
  let errors = 0;
  let sent = 0;
  const total = Math.round(job.rate * job.duration);
  const inFlight = new Set<Promise<void>>();
  const one = (i: number) =>
    new Promise<void>((resolve) => {
      const started = performance.now();
      const req = request(
        { host: '127.0.0.1', port: job.port, method: job.method, path: job.path, agent, headers: { ...headers, cookie: job.cookies[i % job.cookies.length] } },
        (res) => {
          res.resume();
          res.on('end', () => {
            latencies.push(performance.now() - started);
            if (res.statusCode! >= 200 && res.statusCode! < 300) ok++;
            else errors++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(job.body);
    });
  const start = performance.now();
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1_000) * job.rate) + 1);
    while (sent < due) {
      const p = one(sent++);
      inFlight.add(p);
      void p.then(() => inFlight.delete(p));
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  const sentFor = (performance.now() - start) / 1_000;
  await Promise.all(inFlight);
  agent.destroy();
  const sorted = latencies.sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { requests: sent, ok, errors, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[sorted.length - 1] ?? NaN, sentRate: sent / sentFor };
}
