import { setTimeout as delay } from 'node:timers/promises';
import { percentiles } from '../test/support/staleness-probe';
import { loginWithCart, send } from './http';
import type { BenchOptions } from './options';
import { startRedis } from './redis';
import type { OutageResult } from './results';
import { startApp } from './throughput';

type Log = (line: string) => void;

/** The library's default `redisDeadline`, which the `ours` app keeps. */
const REDIS_DEADLINE_MS = 1_000;
/** Requests sent at once into each pause: a burst must not queue behind itself. */
const BURST = 20;

/**
 * How soon a request answers 503 when Redis is away: the figures the outage tests only bound
 * (`redisDeadline` plus a margin a loaded CI machine holds). An `ours` app on a Redis of this
 * section's own, read with one cookie:
 * - Redis hangs (`CLIENT PAUSE`, the connection up, nothing answered): bursts of requests, each
 *   answering once the deadline fires;
 * - Redis refuses (the server stopped, the connection known lost): requests one at a time, each
 *   failing at once.
 */
export async function measureOutage(options: BenchOptions, log: Log): Promise<OutageResult[]> {
  const redis = await startRedis();
  const app = await startApp('ours', { sessions: 0 }, redis);
  try {
    const cookie = await loginWithCart(app.port, 'outage-user');
    const timedRead = async () => {
      const started = performance.now();
      const reply = await send(app.port, 'GET', '/cart', cookie);
      return { status: reply.status, ms: performance.now() - started };
    };

    const hanging: { status: number; ms: number }[] = [];
    const pauseMs = REDIS_DEADLINE_MS * 3;
    for (let round = 0; round < options.outageRounds; round++) {
      await redis.admin.call('CLIENT', 'PAUSE', String(pauseMs), 'ALL');
      const paused = Date.now();
      hanging.push(...(await Promise.all(Array.from({ length: BURST }, timedRead))));
      await delay(Math.max(0, paused + pauseMs + 100 - Date.now()));
      await waitForStatus(timedRead, 200);
    }
    const results = [report('hangs', hanging, log)];

    await redis.stop();
    await waitForStatus(timedRead, 503);
    const refused: { status: number; ms: number }[] = [];
    for (let i = 0; i < options.outageRounds * BURST; i++) refused.push(await timedRead());
    results.push(report('refuses', refused, log));
    return results;
  } finally {
    await app.child.stop();
    await redis.stop();
  }
}

async function waitForStatus(read: () => Promise<{ status: number }>, status: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if ((await read()).status === status) return;
    await delay(50);
  }
  throw new Error(`the app never answered ${status}`);
}

function report(redis: OutageResult['redis'], samples: { status: number; ms: number }[], log: Log): OutageResult {
  const not503 = samples.filter((sample) => sample.status !== 503).length;
  const { p50, p99, max } = percentiles(samples.map((sample) => sample.ms));
  const ms = (n: number) => `${n.toFixed(1)} ms`;
  log(`  Redis ${redis.padEnd(7)} ${samples.length} requests, ${not503} not 503; answered after p50 ${ms(p50)} p99 ${ms(p99)} max ${ms(max)}`);
  return { redis, redisDeadline: REDIS_DEADLINE_MS, requests: samples.length, not503, p50, p99, max };
}
