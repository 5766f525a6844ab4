import { readFileSync, readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { ADDED_LINE } from './apps/cart';
import type { Mode } from './apps/mode';
import { BenchChild } from './children';
import { processCpuMs } from './interference';
import type { PacedJob, PacedResult } from './paced';
import type { BenchOptions } from './options';
import { HARNESS_COMMANDS, commandStats, type BenchRedis } from './redis';
import type { LatencyRun, Scenario } from './results';
import { median } from './stats';
import { startApp, type RunningApp } from './throughput';

type Log = (line: string) => void;
type Stats = Record<string, { calls: number; usec: number }>;

/** The modes the latency targets name: the ceiling, connect-redis, ours with and without the near cache, and the floors. */
export const LATENCY_MODES: Mode[] = ['none', 'connect-redis', 'ours', 'ours-near-cache', 'floor', 'floor-cached'];
const LATENCY_SCENARIOS: Scenario[] = ['read', 'write'];
/** Connections the paced loader may open: enough that a request never waits for one at these rates. */
const CONNECTIONS = 16;
/** Redis's CPU capacity assumed for "requests per Redis core": one core, all of it. */
export const REDIS_CORE_US_PER_S = 1e6;
const PINGS = 500;
/** Commands that run a script: their time includes the commands the script ran. */
const SCRIPT = /^(eval|evalsha|eval_ro|evalsha_ro|fcall|fcall_ro)$/;

/**
 * `--only=latency`: each mode alone, at a fixed and moderate request rate (paced, open loop), with
 * Redis `--redis-rtt` ms away behind `rtt-proxy.ts` and then with no proxy; p50/p99 per mode and the
 * Redis CPU each request costs, by INFO commandstats and by redis-server's own CPU time.
 */
export async function measureLatency(options: BenchOptions, redis: BenchRedis, log: Log): Promise<LatencyRun[]> {
  const loader = BenchChild.start('bench/load.ts', {});
  await loader.next('ready');
  const runs: LatencyRun[] = [];
  try {
    for (const rttMs of options.redisRtt > 0 ? [options.redisRtt, 0] : [0]) {
      const proxy =
        rttMs > 0 ? BenchChild.start('bench/rtt-proxy.ts', { BENCH_PROXY_TARGET: `127.0.0.1:${redis.port}`, BENCH_PROXY_RTT_MS: String(rttMs) }) : undefined;
      try {
        const proxyPort = proxy && (await proxy.next<{ port: number }>('ready')).port;
        const redisUrl = proxyPort ? `redis://127.0.0.1:${proxyPort}` : redis.url;
        const pingMs = await pingP50(redisUrl);
        log(`  Redis ${rttMs} ms away: PING p50 ${pingMs.toFixed(3)} ms (${PINGS} PINGs one at a time)`);
        for (const mode of LATENCY_MODES) {
          const app = await startApp(mode, options, redis, [], { redisUrl, env: { BENCH_COUNT_BY_NAME: '1' } });
          try {
            for (const scenario of LATENCY_SCENARIOS) {
              const run = { ...(await measureOne(app, scenario, rttMs, options, redis, loader, proxy)), pingMs };
              runs.push(run);
              log(progressLine(run));
            }
          } finally {
            await app.child.stop();
          }
        }
      } finally {
        await proxy?.stop();
      }
    }
  } finally {
    await loader.stop();
  }
  return runs;
}

async function measureOne(
  app: RunningApp,
  scenario: Scenario,
  rttMs: number,
  options: BenchOptions,
  redis: BenchRedis,
  loader: BenchChild,
  proxy: BenchChild | undefined,
): Promise<LatencyRun> {
  const job = (duration: number): PacedJob => ({
    port: app.port,
    method: scenario === 'write' ? 'POST' : 'GET',
    path: scenario === 'write' ? '/cart/items' : '/cart',
    body: scenario === 'write' ? JSON.stringify(ADDED_LINE) : undefined,
    cookies: app.cookies,
    rate: options.rate,
    duration,
    connections: CONNECTIONS,
  });
  // Long enough for the near cache to arm (its first heartbeat back) and every session to be cached.
  await paced(loader, job(Math.max(2, options.warmup)));
  const statsBefore = await commandStats(redis.admin);
  const sentBefore = await sentByName(app);
  const redisBefore = schedNs(redis.pid);
  const proxyBefore = proxy && processCpuMs(proxy.process.pid!);
  const result = await paced(loader, job(options.duration));
  const proxyAfter = proxy && processCpuMs(proxy.process.pid!);
  const redisAfter = schedNs(redis.pid);
  const sentAfter = await sentByName(app);
  const statsAfter = await commandStats(redis.admin);
  const n = result.requests;
  const { usec, executed } = topLevelUsec(statsBefore, statsAfter, sentBefore, sentAfter);
  const sent = Object.entries(sentAfter).reduce((sum, [name, calls]) => sum + (HARNESS_COMMANDS.test(name) ? 0 : calls - (sentBefore[name] ?? 0)), 0);
  return {
    rttMs,
    mode: app.mode,
    scenario,
    rate: options.rate,
    sentRate: result.sentRate,
    requests: n,
    errors: result.errors,
    p50: result.p50,
    p90: result.p90,
    p99: result.p99,
    max: result.max,
    redisUsecPer1000: (usec * 1_000) / n,
    redisCpuUsPer1000: redisBefore === undefined || redisAfter === undefined ? undefined : ((redisAfter - redisBefore) / 1_000 / n) * 1_000,
    executedPerRequest: executed / n,
    sentPerRequest: sent / n,
    proxyCpuUsPer1000: proxyBefore === undefined || proxyAfter === undefined ? undefined : ((proxyAfter - proxyBefore) * 1_000 * 1_000) / n,
  };
}

/** PINGs sent one at a time through a fresh client: the round trip the apps see, proxy hop included. */
async function pingP50(url: string): Promise<number> {
  const client = new Redis(url, { enableAutoPipelining: false });
  try {
    const times: number[] = [];
    for (let i = 0; i < PINGS; i++) {
      const started = performance.now();
      await client.ping();
      times.push(performance.now() - started);
    }
    return median(times);
  } finally {
    client.disconnect();
  }
}

async function paced(loader: BenchChild, job: PacedJob): Promise<PacedResult> {
  const answer = await loader.ask<{ result?: PacedResult; error?: string }>({ type: 'paced', paced: job }, (job.duration + 30) * 1_000);
  if (!answer.result) throw new Error(`paced load failed: ${answer.error}`);
  return answer.result;
}

async function sentByName(app: RunningApp): Promise<Record<string, number>> {
  return (await app.child.ask<{ byName?: Record<string, number> }>({ type: 'counts' })).byName ?? {};
}

/**
 * Redis's execution time between two INFO commandstats, counted once: a script's time includes the
 * commands it ran, which commandstats also counts under their own names. A command's share run by
 * the apps' clients (not inside a script) is what they sent of it over what Redis ran; the bench's
 * own commands are left out.
 */
export function topLevelUsec(
  before: Stats,
  after: Stats,
  sentBefore: Record<string, number>,
  sentAfter: Record<string, number>,
): { usec: number; executed: number } {
  let usec = 0;
  let executed = 0;
  for (const [name, stat] of Object.entries(after)) {
    if (HARNESS_COMMANDS.test(name)) continue;
    const calls = stat.calls - (before[name]?.calls ?? 0);
    const time = stat.usec - (before[name]?.usec ?? 0);
    if (calls <= 0) continue;
    executed += calls;
    const base = name.split('|')[0];
    const sent = (sentAfter[base] ?? 0) - (sentBefore[base] ?? 0);
    usec += SCRIPT.test(name) ? time : time * Math.min(1, sent / calls);
  }
  return { usec, executed };
}

/** CPU time a process's threads ran, ns (/proc schedstat, finer than the jiffies of /proc stat); undefined off Linux. */
function schedNs(pid: number): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/task`).reduce((sum, task) => sum + Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]), 0);
  } catch {
    return undefined;
  }
}

function progressLine(run: LatencyRun): string {
  return (
    `  rtt ${run.rttMs} ms ${run.mode.padEnd(15)} ${run.scenario.padEnd(6)} p50 ${run.p50.toFixed(3)} ms  p99 ${run.p99.toFixed(3)} ms  ` +
    `Redis ${run.redisUsecPer1000.toFixed(0)} µs/1k req (commandstats), ${run.redisCpuUsPer1000?.toFixed(0) ?? '?'} (process)  ` +
    `executed ${run.executedPerRequest.toFixed(2)}/req  sent ${run.sentPerRequest.toFixed(2)}/req  at ${run.sentRate.toFixed(0)} req/s  errors ${run.errors}`
  );
}

/** The latency runs as a Markdown table, with the requests one Redis core can serve per mode. */
export function latencyTable(runs: LatencyRun[]): string {
  const rows = [
    "| Redis RTT | scenario | mode | p50 ms | p99 ms | p50 − ceiling p50 | Redis µs per 1,000 req: commandstats (process CPU above the ceiling run's) | req/s per Redis core: commandstats (process CPU) | cmds executed (sent) / req | errors |",
    '|---:|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const perCore = (us: number | undefined) => (us === undefined || us <= 0 ? '–' : Math.round((REDIS_CORE_US_PER_S * 1_000) / us).toLocaleString('en-US'));
  for (const run of runs) {
    const ceiling = runs.find((r) => r.mode === 'none' && r.rttMs === run.rttMs && r.scenario === run.scenario);
    const delta = ceiling && run.mode !== 'none' ? `${run.p50 - ceiling.p50 >= 0 ? '+' : ''}${(run.p50 - ceiling.p50).toFixed(3)}` : '–';
    // redis-server works a little when idle (its cron, the bench's INFO): the ceiling's run, same rate and length, measures that.
    const cpu =
      run.redisCpuUsPer1000 === undefined || run.mode === 'none'
        ? run.redisCpuUsPer1000
        : Math.max(0, run.redisCpuUsPer1000 - (ceiling?.redisCpuUsPer1000 ?? 0));
    rows.push(
      `| ${run.rttMs} ms (${run.pingMs?.toFixed(3) ?? '?'}) | ${run.scenario} | ${run.mode} | ${run.p50.toFixed(3)} | ${run.p99.toFixed(3)} | ${delta} | ` +
        `${run.redisUsecPer1000.toFixed(0)} (${cpu?.toFixed(0) ?? '–'}) | ${run.mode === 'none' ? '–' : `${perCore(run.redisUsecPer1000)} (${perCore(cpu)})`} | ` +
        `${run.executedPerRequest.toFixed(2)} (${run.sentPerRequest.toFixed(2)}) | ${run.errors} |`,
    );
  }
  return rows.join('\n');
}
