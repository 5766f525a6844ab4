import { ADDED_LINE } from './apps/cart';
import { CONTENDED_MODES as MODES, ceilingOf, isCeiling, platformOf, type Mode, type Platform } from './apps/mode';
import type { AnswerCounts } from './apps/answer-counter';
import { BenchChild } from './children';
import { cartOf } from './http';
import { QuietWaiter, cpuSnapshot, otherCores, processCpuMs } from './interference';
import type { LoadJob } from './load';
import { modesFor, type BenchOptions } from './options';
import { callsBetween, commandCalls, type BenchRedis } from './redis';
import { CONTENDED_SCENARIOS, type ContendedRun, type ContendedScenario, type KeptAdditions } from './results';
import { load, startApp } from './throughput';

type Log = (line: string) => void;

/** An app process of a mode; `cookies` are the sessions the scenarios write (logged in through the first replica). */
interface Replica {
  child: BenchChild;
  port: number;
}

interface Deployment {
  mode: Mode;
  replicas: Replica[];
  cookies: string[];
}

/** Sessions logged in per mode: the first is "the one session", all four make "a handful". */
const SESSIONS = 4;
/** Keys the different-keys scenario cycles through, one per connection. */
const PREF_KEYS = 50;
const IDLE_TIMEOUT_MS = 15_000;

/**
 * Rounds of load where the connections write the same session, or a handful of sessions, at once: in
 * each round every session mode runs in fresh processes (the order rotates), against a flushed Redis,
 * through every contended scenario. The second replica joins for the scenario that needs it.
 *
 * The ceiling of each platform in the run (`none`, `none-fastify`, which never call Redis) runs for
 * the whole section, and is measured again right before each run of a session mode of its platform in
 * the same scenario; that run's ratio is to that ceiling.
 * On a machine whose speed drifts over minutes (seen here: the same code 330 and 530 µs per request
 * in one run), a ceiling measured seconds before is a fair yardstick where one minutes away is not.
 */
export async function runContended(options: BenchOptions, redis: BenchRedis, log: Log): Promise<ContendedRun[]> {
  const loader = BenchChild.start('bench/load.ts', {});
  await loader.next('ready');
  const runs: ContendedRun[] = [];
  const sessionModes = modesFor(options, MODES).filter((mode) => !isCeiling(mode));
  const quiet = new QuietWaiter(options.rounds * sessionModes.length * CONTENDED_SCENARIOS.length * options.contendedDuration * 2 * 250);
  const ceilings = new Map<Platform, Deployment>();
  try {
    for (const mode of new Set(sessionModes.map(ceilingOf))) {
      const ceilingApp = await startApp(mode, { sessions: SESSIONS }, redis);
      const ceiling: Deployment = { mode, replicas: [{ child: ceilingApp.child, port: ceilingApp.port }], cookies: ceilingApp.cookies };
      ceilings.set(platformOf(mode), ceiling);
      ceiling.replicas.push(await startReplica(mode, redis));
    }
    for (let round = 1; round <= options.rounds; round++) {
      const order = sessionModes.map((_, i) => sessionModes[(i + round - 1) % sessionModes.length]);
      for (const mode of order) {
        const first = await startApp(mode, { sessions: SESSIONS }, redis); // flushes Redis (the ceiling keeps nothing there)
        const deployment: Deployment = { mode, replicas: [{ child: first.child, port: first.port }], cookies: first.cookies };
        try {
          for (const scenario of CONTENDED_SCENARIOS) {
            if (scenario === 'one-session-two-replicas' && deployment.replicas.length === 1) deployment.replicas.push(await startReplica(mode, redis));
            const yardstick = await runScenario(ceilings.get(platformOf(mode))!, scenario, round, options, redis, loader, quiet, log);
            yardstick.ratio = 1;
            if (yardstick.appCpuPerRequest) yardstick.cpuRatio = 1;
            runs.push(yardstick);
            log(progressLine(yardstick));
            const run = await runScenario(deployment, scenario, round, options, redis, loader, quiet, log);
            run.ratio = run.load.rps / yardstick.load.rps;
            if (run.appCpuPerRequest && yardstick.appCpuPerRequest) run.cpuRatio = yardstick.appCpuPerRequest / run.appCpuPerRequest;
            runs.push(run);
            log(progressLine(run));
          }
        } finally {
          await Promise.all(deployment.replicas.map((replica) => replica.child.stop()));
        }
      }
    }
  } finally {
    await Promise.all([...ceilings.values()].flatMap((ceiling) => ceiling.replicas.map((replica) => replica.child.stop())));
    await loader.stop();
  }
  return runs;
}

/** Another process of the same mode on the same Redis, without flushing it: a second replica. */
async function startReplica(mode: Mode, redis: BenchRedis): Promise<Replica> {
  const child = BenchChild.start('bench/apps/server.ts', { BENCH_MODE: mode, BENCH_REDIS_URL: redis.url });
  const { port } = await child.next<{ port: number }>('ready');
  return { child, port };
}

function jobFor(deployment: Deployment, scenario: ContendedScenario, duration: number, connections: number): LoadJob {
  const [first, ...more] = deployment.replicas.map((replica) => `http://127.0.0.1:${replica.port}`);
  const moreUrls = scenario === 'one-session-two-replicas' ? more : undefined;
  const cookies = scenario === 'four-sessions' ? deployment.cookies : deployment.cookies.slice(0, 1);
  if (scenario === 'one-session-keys') {
    return { url: first, method: 'POST', cookies, pathTemplate: '/prefs/k{key}', bodyTemplate: '{"value":{n}}', keys: PREF_KEYS, connections, duration };
  }
  return {
    url: `${first}/cart/items`,
    moreUrls: moreUrls?.map((url) => `${url}/cart/items`),
    method: 'POST',
    body: JSON.stringify(ADDED_LINE),
    cookies,
    connections,
    duration,
  };
}

async function runScenario(
  deployment: Deployment,
  scenario: ContendedScenario,
  round: number,
  options: BenchOptions,
  redis: BenchRedis,
  loader: BenchChild,
  quiet: QuietWaiter,
  log: Log,
): Promise<ContendedRun> {
  const replicas = scenario === 'one-session-two-replicas' ? deployment.replicas : deployment.replicas.slice(0, 1);
  const pids = () => [process.pid, redis.pid, loader.process.pid!, ...replicas.map((r) => r.child.process.pid!)];
  await load(loader, jobFor(deployment, scenario, options.warmup, options.connections));
  await quiet.wait(pids, 10_000);
  let measured = await measure(deployment, replicas, scenario, options, redis, loader, pids);
  if ((measured.otherCores ?? 0) > 2 * quiet.threshold && !quiet.exhausted) {
    log(`  (other processes used ${measured.otherCores!.toFixed(2)} cores during ${deployment.mode} ${scenario}: measuring again)`);
    await quiet.wait(pids, 10_000);
    measured = await measure(deployment, replicas, scenario, options, redis, loader, pids);
  }
  return { round, mode: deployment.mode, scenario, ...measured };
}

async function measure(
  deployment: Deployment,
  replicas: Replica[],
  scenario: ContendedScenario,
  options: BenchOptions,
  redis: BenchRedis,
  loader: BenchChild,
  pids: () => number[],
): Promise<Omit<ContendedRun, 'round' | 'mode' | 'scenario'>> {
  const counting = !isCeiling(deployment.mode) && scenario !== 'one-session-keys';
  const sessions = scenario === 'four-sessions' ? deployment.cookies : deployment.cookies.slice(0, 1);
  const before = await idleCounts(replicas);
  const qtyBefore = counting ? await addedQuantity(replicas[0].port, sessions) : 0;
  const callsBefore = await commandCalls(redis.admin);
  const cpuBefore = cpuSnapshot(pids());
  const appBefore = replicasCpuMs(replicas);
  const result = await load(loader, jobFor(deployment, scenario, options.contendedDuration, options.connections));
  const appAfter = replicasCpuMs(replicas);
  const cpuAfter = cpuSnapshot(pids());
  const after = await idleCounts(replicas); // answers still in flight when the load stopped are let finish
  const calls = callsBetween(callsBefore, await commandCalls(redis.admin));
  const served = result.requests;
  let kept: KeptAdditions | undefined;
  if (counting) {
    kept = { acknowledged: after.acknowledged - before.acknowledged, received: result.ok, kept: (await addedQuantity(replicas[0].port, sessions)) - qtyBefore };
  }
  return {
    load: result,
    executedPerRequest: Object.values(calls).reduce((a, b) => a + b, 0) / served,
    sentPerRequest: (after.sent - before.sent) / served,
    commands: Object.fromEntries(Object.entries(calls).map(([name, n]) => [name, n / served])),
    otherCores: otherCores(cpuBefore, cpuAfter),
    kept,
    appCpuPerRequest: appBefore === undefined || appAfter === undefined ? undefined : ((appAfter - appBefore) * 1_000) / served,
  };
}

/** CPU the replicas' processes have used so far, summed, in ms; undefined where /proc is missing. */
function replicasCpuMs(replicas: Replica[]): number | undefined {
  let total = 0;
  for (const replica of replicas) {
    const ms = processCpuMs(replica.child.process.pid!);
    if (ms === undefined) return undefined;
    total += ms;
  }
  return total;
}

/**
 * The replicas' counts summed, once none has a request in flight and their Redis clients sent
 * nothing for a moment: a handler whose client left when the load stopped may still be writing.
 */
async function idleCounts(replicas: Replica[]): Promise<{ sent: number; acknowledged: number }> {
  const deadline = Date.now() + IDLE_TIMEOUT_MS;
  let previous: { sent: number; acknowledged: number } | undefined;
  for (;;) {
    const all = await Promise.all(replicas.map((r) => r.child.ask<AnswerCounts & { sent: number }>({ type: 'counts' })));
    const now = { sent: all.reduce((n, c) => n + c.sent, 0), acknowledged: all.reduce((n, c) => n + c.acknowledged, 0) };
    const inFlight = all.reduce((n, c) => n + c.inFlight, 0);
    if (inFlight === 0 && previous?.sent === now.sent && previous.acknowledged === now.acknowledged) return now;
    if (Date.now() > deadline) throw new Error(`${inFlight} request(s) still in flight ${IDLE_TIMEOUT_MS} ms after the load stopped`);
    previous = now;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Quantity of the added product over the given sessions' carts, as Redis holds them (read through the app). */
async function addedQuantity(port: number, cookies: string[]): Promise<number> {
  let qty = 0;
  for (const cookie of cookies) qty += (await cartOf(port, cookie)).find((line) => line.sku === ADDED_LINE.sku)?.qty ?? 0;
  return qty;
}

function progressLine(run: ContendedRun): string {
  const kept = run.kept ? `  kept ${run.kept.kept} of ${run.kept.acknowledged} acknowledged` : '';
  return (
    `  round ${run.round} ${run.mode.padEnd(13)} ${run.scenario.padEnd(24)} ${run.load.rps.toFixed(0).padStart(6)} req/s` +
    (isCeiling(run.mode) ? '' : `  × ceiling ${run.ratio?.toFixed(2) ?? '?'} (by CPU ${run.cpuRatio?.toFixed(2) ?? '?'})`) +
    `  p99 ${run.load.p99} ms  app CPU ${run.appCpuPerRequest?.toFixed(0) ?? '?'} µs/req  sent ${run.sentPerRequest.toFixed(2)}/req  executed ${run.executedPerRequest.toFixed(2)}/req` +
    `  errors ${run.load.non2xx + run.load.errors}${kept}` +
    (run.otherCores === undefined ? '' : `  other processes ${run.otherCores.toFixed(2)} cores`)
  );
}
