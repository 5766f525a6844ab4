import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { renderChart } from './chart';
import { ROOT, killChildren } from './children';
import { measureLogoutEverywhere } from './logout-everywhere';
import { describeMachine, machineLine } from './machine';
import { measureMemory } from './memory';
import { measureNearCacheMemory } from './near-cache-memory';
import { modesFor, parseOptions, type BenchOptions } from './options';
import { CONTENDED_MODES, MODES } from './apps/mode';
import { runProfiles } from './profile';
import { startRedis, type BenchRedis } from './redis';
import { contendedTable, markdownReport, targetsTable, throughputTable } from './report';
import type { BenchResults } from './results';
import { evaluateTargets } from './targets';
import { summarise, summariseContended } from './summary';
import { metricsCostTable } from './metrics-cost';
import { runThroughput } from './throughput';
import { runContended } from './contended';
import { measureStaleness } from './staleness';
import { measureOutage } from './outage';
import { measurePaired, pairedTable } from './paired';
import { latencyTable, measureLatency } from './latency';
import { WIDE_KEYS, WIDE_MODES, measureWide } from './wide';

const log = (line: string) => console.log(line);

/** `npm run bench`: the whole benchmark; resolves with the process exit code. */
export async function main(argv: string[]): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseOptions(argv);
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  let redis: BenchRedis | undefined;
  const cleanUp = async () => {
    killChildren();
    await redis?.stop();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: stopping the bench's apps and Redis`);
    void cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const started = Date.now();
  try {
    redis = await startRedis();
    const results = await runSections(options, redis);
    results.finishedAt = new Date().toISOString();
    results.targets = evaluateTargets(results);
    await writeReport(options, results);
    log(`Done in ${((Date.now() - started) / 60_000).toFixed(1)} min.`);
    return 0;
  } catch (error) {
    console.error(error);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanUp();
  }
}

async function runSections(options: BenchOptions, redis: BenchRedis): Promise<BenchResults> {
  const machine = describeMachine(redis.version);
  log(`Machine: ${machineLine(machine)}`);
  const extra = redis.extraArgs.length ? `, extra arguments: ${redis.extraArgs.join(' ')}` : '';
  log(`Redis: own redis-server on 127.0.0.1:${redis.port} (no persistence${extra})${options.quick ? '; quick run: figures are indicative only' : ''}`);
  const results: BenchResults = {
    startedAt: new Date().toISOString(),
    quick: options.quick,
    options: { ...options, sections: [...options.sections], redisArgs: redis.extraArgs },
    machine,
    runs: [],
    summaries: [],
    contended: [],
    contendedSummaries: [],
    memory: [],
    logout: [],
    targets: [],
  };
  if (options.sections.has('load')) {
    log(
      `\nLoad: ${options.rounds} round(s), ${options.duration} s per mode and scenario, ${options.connections} connections; ${modesFor(options, MODES).join(', ')}`,
    );
    results.runs = await runThroughput(options, redis, log);
    results.summaries = summarise(results.runs);
  }
  if (options.sections.has('paired')) {
    const slices = options.blocks * 2 * options.pairedModes.length;
    log(
      `\nPaired: ${options.pairedModes.join(', ')} up at once; per scenario ${options.blocks} blocks (${slices} slices of ${options.slice} s), each mode twice per block, forwards then backwards`,
    );
    results.paired = await measurePaired(options, redis, log);
  }
  if (options.sections.has('latency')) {
    const rtts = options.redisRtt > 0 ? `Redis ${options.redisRtt} ms away (a proxy), then 0 ms (direct)` : 'Redis 0 ms away (direct)';
    log(`\nLatency: ${options.rate} req/s paced, ${options.duration} s per mode and scenario; ${rtts}`);
    results.latency = await measureLatency(options, redis, log);
  }
  if (options.sections.has('wide')) {
    log(
      `\nWide sessions: ${WIDE_MODES.join(', ')}; a one-key change in a ${WIDE_KEYS}-key session against the same in a 3-key one, ${options.blocks} blocks of 4 slices of ${options.slice} s per mode`,
    );
    results.wide = await measureWide(options, redis, log);
  }
  if (options.sections.has('contended')) {
    log(
      `\nContended: ${options.rounds} round(s), ${options.contendedDuration} s per mode and scenario, ${options.connections} connections on one or a few sessions; ${modesFor(options, CONTENDED_MODES).join(', ')}`,
    );
    results.contended = await runContended(options, redis, log);
    results.contendedSummaries = summariseContended(results.contended);
  }
  if (options.sections.has('memory')) {
    log(`\nMemory: Redis bytes per session over ${options.memoryCount.toLocaleString('en-US')} sessions`);
    results.memory = await measureMemory(options, redis, log);
    results.nearCacheMemory = await measureNearCacheMemory(redis, options.nearCacheMemoryCount, log);
  }
  if (options.sections.has('logout')) {
    log(`\nLog out everywhere: one user with 5 sessions among ${options.logoutSizes.map((n) => n.toLocaleString('en-US')).join(', ')} stored`);
    results.logout = await measureLogoutEverywhere(options, redis, log);
  }
  if (options.sections.has('staleness')) {
    log(`\nStaleness (near cache): ${options.stalenessTrials} trials each; replica A changes or logs out, replica B reads in a tight loop`);
    results.staleness = await measureStaleness(options, redis, log);
  }
  if (options.sections.has('outage')) {
    log(`\nOutage: an app with the default redisDeadline while its Redis hangs (${options.outageRounds} pauses of 20 requests at once), then refuses`);
    results.outage = await measureOutage(options, log);
  }
  if (options.sections.has('profile')) {
    log(`\nProfiles: every mode and scenario under node --cpu-prof, ${options.profileDuration} s of load each`);
    results.profile = await runProfiles(options, redis, log);
  }
  return results;
}

async function writeReport(options: BenchOptions, results: BenchResults): Promise<void> {
  mkdirSync(options.outDir, { recursive: true });
  const svg = await renderChart(results);
  if (svg) writeFileSync(join(options.outDir, 'latest.svg'), svg);
  const markdown = markdownReport(results, svg ? 'latest.svg' : undefined);
  writeFileSync(join(options.outDir, 'latest.md'), markdown);
  writeFileSync(join(options.outDir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);

  if (results.summaries.length)
    log(`
${throughputTable(results.summaries)}

Cost of metrics (ours-metrics − ours, same round):
${metricsCostTable(results.runs)}

Cost of encryption at rest (ours-encrypted − ours, same round):
${metricsCostTable(results.runs, 'ours-encrypted')}`);
  if (results.contendedSummaries.length)
    log(`
${contendedTable(results.contendedSummaries)}`);
  if (results.paired?.length) log(`\n${pairedTable(results.paired)}`);
  if (results.latency?.length) log(`\n${latencyTable(results.latency)}`);
  if (results.wide?.length) log(`\n${pairedTable(results.wide)}`);
  if (results.targets.length) log(`\n${targetsTable(results)}`);
  if (results.profile) log(`\n${results.profile}`);
  const where = (file: string) => relative(ROOT, join(options.outDir, file));
  log(`\nReport: ${where('latest.md')}  raw figures: ${where('latest.json')}${svg ? `  chart: ${where('latest.svg')}` : ''}`);
}
