import type { IncomingHttpHeaders } from 'node:http';
import { runPaced, type PacedJob } from './paced';

/** One load run, as the bench asks the load process for it. */
export interface LoadJob {
  url: string;
  /**
   * More app processes sharing the load with `url` (replicas behind a balancer): each target gets
   * its own autocannon with an equal share of the connections, all running at once.
   */
  moreUrls?: string[];
  method: 'GET' | 'POST';
  /** JSON body, sent with content-type application/json. */
  body?: string;
  /** Cookie headers handed out round-robin, one per request; none for the no-cookie visitor. */
  cookies: string[];
  /**
   * Request `i` (counted over the whole job) goes to `pathOf(i)` with `bodyOf(i)`: written as the
   * template strings `pathTemplate` / `bodyTemplate`, where `{key}` is `i % keys` and `{n}` is `i`.
   * Without them every request goes to the URL's path with `body`.
   */
  pathTemplate?: string;
  bodyTemplate?: string;
  keys?: number;
  connections: number;
  /** Seconds. */
  duration: number;
}

/** What the bench keeps of autocannon's result. */
export interface LoadResult {
  requests: number;
  seconds: number;
  rps: number;
  p50: number;
  /** With several targets, the highest of their p99s. */
  p99: number;
  ok: number;
  non2xx: number;
  /** Socket errors and timeouts. */
  errors: number;
}

/** The fields of autocannon's result this bench reads. */
interface AutocannonResult {
  duration: number;
  '2xx': number;
  requests: { total: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- autocannon ships no types; only its promise API is used.
const autocannon = require('autocannon') as Autocannon;

/**
 * Child process entry: runs autocannon for each job the bench sends over IPC, so the load comes from
 * a process of its own, on 127.0.0.1, for a bounded time.
 */
export async function runLoad(job: LoadJob): Promise<LoadResult> {
  const urls = [job.url, ...(job.moreUrls ?? [])];
  let next = 0; // shared by every target, so cookies and keys go round-robin over the whole job
  const fill = (template: string, i: number) => template.replaceAll('{key}', String(i % (job.keys ?? 1))).replaceAll('{n}', String(i));
  const headers: IncomingHttpHeaders = job.body || job.bodyTemplate ? { 'content-type': 'application/json' } : {};
  const setup = (req: { headers: Record<string, string>; path?: string; body?: string }) => {
    const i = next++;
    const out = { ...req, headers: { ...headers } as Record<string, string> };
    if (job.cookies.length) out.headers.cookie = job.cookies[i % job.cookies.length];
    if (job.pathTemplate) out.path = fill(job.pathTemplate, i);
    if (job.bodyTemplate) out.body = fill(job.bodyTemplate, i);
    return out;
  };
  const perTarget = Math.max(1, Math.round(job.connections / urls.length));
  const results = await Promise.all(
    urls.map((url) =>
      autocannon({
        url,
        method: job.method,
        body: job.body,
        headers,
        requests: job.cookies.length || job.pathTemplate ? [{ setupRequest: setup }] : undefined,
        connections: perTarget,
        duration: job.duration,
        timeout: 10,
      }),
    ),
  );
  const seconds = Math.max(...results.map((r) => r.duration));
  const ok = sum(results.map((r) => r['2xx']));
  const requests = sum(results.map((r) => r.requests.total));
  return {
    requests,
    seconds,
    rps: ok / seconds,
    // The median of the merged latencies is not known; the request-weighted mean of the medians is close.
    p50: sum(results.map((r) => r.latency.p50 * r.requests.total)) / Math.max(1, requests),
    p99: Math.max(...results.map((r) => r.latency.p99)),
    ok,
    non2xx: sum(results.map((r) => r.non2xx)),
    errors: sum(results.map((r) => r.errors + r.timeouts)),
  };
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

if (require.main === module) {
  const answer = async (job: LoadJob): Promise<void> => {
    try {
      process.send!({ type: 'load', result: await runLoad(job) });
    } catch (error) {
      process.send!({ type: 'load', error: String((error as Error)?.stack ?? error) });
    }
  };
  const answerPaced = async (job: PacedJob): Promise<void> => {
    try {
      process.send!({ type: 'paced', result: await runPaced(job) });
    } catch (error) {
      process.send!({ type: 'paced', error: String((error as Error)?.stack ?? error) });
    }
  };
  process.on('message', (message: { type: string; job?: LoadJob; paced?: PacedJob }) => {
    if (message.type === 'stop') process.exit(0);
    if (message.type === 'paced' && message.paced) return void answerPaced(message.paced);
    if (message.type !== 'load' || !message.job) return;
    void answer(message.job); // never rejects: a failure goes back to the bench as the answer
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ type: 'ready' });
}
