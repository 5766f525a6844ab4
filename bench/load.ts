import type { IncomingHttpHeaders } from 'node:http';

/** One load run, as the bench asks the load process for it. */
export interface LoadJob {
  url: string;
  method: 'GET' | 'POST';
  /** JSON body, sent with content-type application/json. */
  body?: string;
  /** Cookie headers handed out round-robin, one per request; none for the no-cookie visitor. */
  cookies: string[];
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
  p99: number;
  ok: number;
  non2xx: number;
  /** Socket errors and timeouts. */
  errors: number;
}

type Autocannon = (options: Record<string, unknown>) => Promise<any>;
// autocannon ships no types; only its promise API is used.
const autocannon = require('autocannon') as Autocannon;

/**
 * Child process entry: runs autocannon for each job the bench sends over IPC, so the load comes from
 * a process of its own, on 127.0.0.1, for a bounded time.
 */
export async function runLoad(job: LoadJob): Promise<LoadResult> {
  let next = 0;
  const headers: IncomingHttpHeaders = job.body ? { 'content-type': 'application/json' } : {};
  const requests = job.cookies.length
    ? [{ setupRequest: (req: { headers: Record<string, string> }) => ({ ...req, headers: { ...headers, cookie: job.cookies[next++ % job.cookies.length] } }) }]
    : undefined;
  const result = await autocannon({
    url: job.url,
    method: job.method,
    body: job.body,
    headers,
    requests,
    connections: job.connections,
    duration: job.duration,
    timeout: 10,
  });
  const seconds = result.duration as number;
  const ok = result['2xx'] as number;
  return {
    requests: result.requests.total,
    seconds,
    rps: ok / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    ok,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

if (require.main === module) {
  process.on('message', async (message: { type: string; job?: LoadJob }) => {
    if (message.type === 'stop') process.exit(0);
    if (message.type !== 'load' || !message.job) return;
    try {
      process.send!({ type: 'load', result: await runLoad(message.job) });
    } catch (error) {
      process.send!({ type: 'load', error: String((error as Error)?.stack ?? error) });
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ type: 'ready' });
}
