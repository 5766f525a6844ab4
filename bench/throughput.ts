import { ADDED_LINE } from './apps/cart';
import { MODES, isCeiling, type Mode } from './apps/mode';
import { BenchChild } from './children';
import { fakeCookie, loginWithCart, mapLimit, send } from './http';
import type { LoadJob, LoadResult } from './load';
import { modesFor, type BenchOptions } from './options';
import { QuietWaiter, cpuSnapshot, otherCores, processCpuMs } from './interference';
import { callsBetween, commandCalls, type BenchRedis } from './redis';
import { SCENARIOS, type Scenario, type ScenarioRun } from './results';
import { addRatios } from './summary';

type Log = (line: string) => void;

/** A mode's app running in its own process, with the cookies of its seeded sessions. */
export interface RunningApp {
  mode: Mode;
  child: BenchChild;
  port: number;
  cookies: string[];
}

/**
 * Rounds of load: in each round every mode runs in a fresh process (the order rotates from round to
 * round), against a flushed Redis, through the three scenarios.
 */
export async function runThroughput(options: BenchOptions, redis: BenchRedis, log: Log): Promise<ScenarioRun[]> {
  const loader = BenchChild.start('bench/load.ts', {});
  await loader.next('ready');
  const runs: ScenarioRun[] = [];
  const modes = modesFor(options, MODES);
  // Up to a quarter of the planned load time may go to waiting for other processes to calm down.
  const quiet = new QuietWaiter(options.rounds * 9 * options.duration * 250);
  try {
    for (let round = 1; round <= options.rounds; round++) {
      const order = modes.map((_, i) => modes[(i + round - 1) % modes.length]);
      for (const mode of order) {
        const app = await startApp(mode, options, redis);
        try {
          for (const scenario of SCENARIOS) {
            const run = await runScenario(app, scenario, round, options, redis, loader, quiet, log);
            runs.push(run);
            log(progressLine(run));
          }
        } finally {
          await app.child.stop();
        }
      }
    }
  } finally {
    await loader.stop();
  }
  addRatios(runs);
  return runs;
}

/** How `startApp` starts an app: by default on a flushed Redis, connected to it directly. */
export interface StartHow {
  /** false: keep what Redis holds (other apps of the same section are up and keep their sessions). */
  flush?: boolean;
  /** Where the app connects instead of `redis.url`: a latency proxy in front of it (`rtt-proxy.ts`). */
  redisUrl?: string;
  /** More environment for the app process (e.g. BENCH_COUNT_BY_NAME). */
  env?: Record<string, string>;
}

/** Starts a mode's app on a flushed Redis and logs in its users, each with a three-line cart. */
export async function startApp(
  mode: Mode,
  options: Pick<BenchOptions, 'sessions'>,
  redis: BenchRedis,
  nodeFlags: string[] = [],
  how: StartHow = {},
): Promise<RunningApp> {
  if (how.flush !== false) await redis.admin.flushall();
  const child = BenchChild.start('bench/apps/server.ts', { BENCH_MODE: mode, BENCH_REDIS_URL: how.redisUrl ?? redis.url, ...how.env }, nodeFlags);
  const { port } = await child.next<{ port: number }>('ready');
  const users = Array.from({ length: options.sessions }, (_, i) => `user-${i}`);
  const cookies = isCeiling(mode) ? users.map((_, i) => fakeCookie(i)) : await mapLimit(users, 16, (user) => loginWithCart(port, user));
  return { mode, child, port, cookies };
}

export function jobFor(app: RunningApp, scenario: Scenario, duration: number, connections: number): LoadJob {
  const url = `http://127.0.0.1:${app.port}`;
  switch (scenario) {
    case 'read':
      return { url: `${url}/cart`, method: 'GET', cookies: app.cookies, connections, duration };
    case 'write':
      return { url: `${url}/cart/items`, method: 'POST', body: JSON.stringify(ADDED_LINE), cookies: app.cookies, connections, duration };
    case 'no-cookie':
      return { url: `${url}/cart`, method: 'GET', cookies: [], connections, duration };
  }
}

export async function load(loader: BenchChild, job: LoadJob): Promise<LoadResult> {
  const answer = await loader.ask<{ result?: LoadResult; error?: string }>({ type: 'load', job }, (job.duration + 30) * 1_000);
  if (!answer.result) throw new Error(`load failed: ${answer.error}`);
  return answer.result;
}

async function runScenario(
  app: RunningApp,
  scenario: Scenario,
  round: number,
  options: BenchOptions,
  redis: BenchRedis,
  loader: BenchChild,
  quiet: QuietWaiter,
  log: Log,
): Promise<ScenarioRun> {
  const pids = () => [process.pid, redis.pid, app.child.process.pid!, loader.process.pid!];
  await load(loader, jobFor(app, scenario, options.warmup, options.connections));
  let measured = await measure(app, scenario, options, redis, loader, pids, quiet);
  if ((measured.otherCores ?? 0) > 2 * quiet.threshold && !quiet.exhausted) {
    log(`  (other processes used ${measured.otherCores!.toFixed(2)} cores during ${app.mode} ${scenario}: measuring again)`);
    measured = await measure(app, scenario, options, redis, loader, pids, quiet);
  }
  return { round, mode: app.mode, scenario, ...measured, roundTripsPerRequest: await traceRoundTrips(app, scenario, options.probeRequests) };
}

/** One measured load run, with the Redis commands and CPU it took. */
async function measure(
  app: RunningApp,
  scenario: Scenario,
  options: BenchOptions,
  redis: BenchRedis,
  loader: BenchChild,
  pids: () => number[],
  quiet: QuietWaiter,
): Promise<Omit<ScenarioRun, 'round' | 'mode' | 'scenario' | 'roundTripsPerRequest'>> {
  await quiet.wait(pids, 10_000);
  const callsBefore = await commandCalls(redis.admin);
  const sentBefore = await app.child.ask<{ sent: number }>({ type: 'counts' });
  const cpuBefore = cpuSnapshot(pids());
  const appBefore = processCpuMs(app.child.process.pid!);
  const result = await load(loader, jobFor(app, scenario, options.duration, options.connections));
  const appAfter = processCpuMs(app.child.process.pid!);
  const cpuAfter = cpuSnapshot(pids());
  const sentAfter = await app.child.ask<{ sent: number }>({ type: 'counts' });
  const calls = callsBetween(callsBefore, await commandCalls(redis.admin));
  const served = result.requests;
  return {
    load: result,
    executedPerRequest: Object.values(calls).reduce((a, b) => a + b, 0) / served,
    sentPerRequest: (sentAfter.sent - sentBefore.sent) / served,
    commands: Object.fromEntries(Object.entries(calls).map(([name, n]) => [name, n / served])),
    otherCores: otherCores(cpuBefore, cpuAfter),
    appCpuPerRequest: appBefore === undefined || appAfter === undefined ? undefined : ((appAfter - appBefore) * 1_000) / served,
  };
}

/** Round trips per request, traced over requests sent one at a time (so none overlap). */
async function traceRoundTrips(app: RunningApp, scenario: Scenario, requests: number): Promise<number> {
  await app.child.ask({ type: 'trace', on: true });
  const before = await app.child.ask<{ roundTrips: number }>({ type: 'counts' });
  for (let i = 0; i < requests; i++) {
    const cookie = scenario === 'no-cookie' ? undefined : app.cookies[i % app.cookies.length];
    const reply = scenario === 'write' ? await send(app.port, 'POST', '/cart/items', cookie, ADDED_LINE) : await send(app.port, 'GET', '/cart', cookie);
    if (reply.status !== 200) throw new Error(`${app.mode} ${scenario}: the app answered ${reply.status}: ${reply.body.slice(0, 200)}`);
  }
  const after = await app.child.ask<{ roundTrips: number }>({ type: 'counts' });
  await app.child.ask({ type: 'trace', on: false });
  return (after.roundTrips - before.roundTrips) / requests;
}

function progressLine(run: ScenarioRun): string {
  return (
    `  round ${run.round} ${run.mode.padEnd(13)} ${run.scenario.padEnd(9)} ${run.load.rps.toFixed(0).padStart(6)} req/s` +
    `  p99 ${run.load.p99} ms  app CPU ${run.appCpuPerRequest?.toFixed(0) ?? '?'} µs/req` +
    `  sent ${run.sentPerRequest.toFixed(2)}/req  round trips ${run.roundTripsPerRequest.toFixed(2)}  errors ${run.load.non2xx + run.load.errors}` +
    (run.otherCores === undefined ? '' : `  other processes ${run.otherCores.toFixed(2)} cores`)
  );
}
