import type { Mode } from './apps/mode';
import { BenchChild } from './children';
import { cpuSnapshot, otherCores, processCpuMs } from './interference';
import type { LoadJob } from './load';
import type { BenchOptions } from './options';
import type { BenchRedis } from './redis';
import type { PairedRatio, PairedResult, PairedSlice, Scenario } from './results';
import { median } from './stats';
import { jobFor, load, startApp, type RunningApp } from './throughput';

type Log = (line: string) => void;

/** Something a paired comparison loads: an app process and the load that goes to it. */
export interface PairedTarget {
  name: string;
  /** The app process whose CPU the slice measures. */
  pid: number;
  job(seconds: number): LoadJob;
}

/** How long and how often: `blocks` palindromes of slices of `sliceSeconds` each. */
export interface PairedPlan {
  blocks: number;
  sliceSeconds: number;
  warmup: number;
  /** The bench's own processes (loader, Redis, apps): what other processes used is measured without them. */
  ownPids(): number[];
}

/** The ratios the paired section reports, `[of, to]`, where both modes run. */
const PAIRS: Array<[Mode, Mode]> = [
  ['ours', 'none'],
  ['floor', 'none'],
  ['ours', 'floor'],
  ['ours-near-cache', 'none'],
  ['floor-cached', 'none'],
  ['ours-near-cache', 'floor-cached'],
  ['ours-near-cache', 'ours'],
  ['ours-encrypted', 'ours'],
  ['connect-redis', 'none'],
  ['ours-fastify', 'none-fastify'],
  ['floor-fastify', 'none-fastify'],
  ['ours-fastify', 'floor-fastify'],
  ['fastify-session', 'none-fastify'],
  ['ours-fastify', 'fastify-session'],
  // Across platforms: ours's gain from Fastify beside the ceilings' (the most Fastify can give).
  ['none-fastify', 'none'],
  ['ours-fastify', 'ours'],
];
const PAIRED_SCENARIOS: Scenario[] = ['read', 'write'];

/**
 * A comparison that survives a machine whose speed drifts within minutes: every target stays up at
 * once and the load alternates between them in short slices, in blocks that run the targets forwards
 * and then backwards (A B C C B A). Within a block each target's two slices are centred on the same
 * moment, so a drift that is linear over the block cancels out of every ratio; the ratio of a block is
 * the req/s of one target's two slices over another's. The report gives the per-block ratios' median
 * and spread, and how many blocks hold a ratio within ±0.03 from run to run.
 */
export async function runPaired(
  name: string,
  targets: PairedTarget[],
  pairs: Array<[string, string]>,
  plan: PairedPlan,
  loader: BenchChild,
  log: Log,
): Promise<PairedResult> {
  for (const target of targets) await load(loader, target.job(plan.warmup));
  const slices: PairedSlice[] = [];
  const order = [...targets, ...[...targets].reverse()];
  for (let block = 1; block <= plan.blocks; block++) {
    const blockSlices: PairedSlice[] = [];
    for (const target of order) blockSlices.push(await slice(block, target, plan, loader));
    slices.push(...blockSlices);
    const line = pairs.map(([of, to]) => `${of}/${to} ${blockRatio(blockSlices, of, to).toFixed(3)}`).join('  ');
    log(`  ${name} block ${String(block).padStart(2)}/${plan.blocks}: ${line}`);
  }
  const others = slices.map((s) => s.otherCores).filter((c): c is number => c !== undefined);
  return {
    name,
    targets: targets.map((t) => t.name),
    sliceSeconds: plan.sliceSeconds,
    slices,
    ratios: pairs.map(([of, to]) => pairedRatio(slices, of, to)),
    otherCores: others.length ? Math.max(...others) : undefined,
  };
}

async function slice(block: number, target: PairedTarget, plan: PairedPlan, loader: BenchChild): Promise<PairedSlice> {
  const before = cpuSnapshot(plan.ownPids());
  const cpuBefore = processCpuMs(target.pid);
  const result = await load(loader, target.job(plan.sliceSeconds));
  const cpuAfter = processCpuMs(target.pid);
  const after = cpuSnapshot(plan.ownPids());
  return {
    block,
    target: target.name,
    ok: result.ok,
    seconds: result.seconds,
    errors: result.non2xx + result.errors,
    cpuMs: cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore,
    otherCores: otherCores(before, after),
  };
}

function rate(slices: PairedSlice[], target: string): { rps: number; cpuPerRequest?: number } {
  const mine = slices.filter((s) => s.target === target);
  const ok = mine.reduce((n, s) => n + s.ok, 0);
  const seconds = mine.reduce((n, s) => n + s.seconds, 0);
  const cpu = mine.every((s) => s.cpuMs !== undefined) ? mine.reduce((n, s) => n + s.cpuMs!, 0) : undefined;
  return { rps: ok / seconds, cpuPerRequest: cpu === undefined || ok === 0 ? undefined : (cpu * 1_000) / ok };
}

function blockRatio(blockSlices: PairedSlice[], of: string, to: string): number {
  return rate(blockSlices, of).rps / rate(blockSlices, to).rps;
}

/** The per-block ratios of `of` to `to`, summarised. */
export function pairedRatio(slices: PairedSlice[], of: string, to: string): PairedRatio {
  const blocks = [...new Set(slices.map((s) => s.block))];
  const perBlock = blocks.map((b) =>
    blockRatio(
      slices.filter((s) => s.block === b),
      of,
      to,
    ),
  );
  const perBlockCpu: number[] = [];
  for (const b of blocks) {
    const mine = slices.filter((s) => s.block === b);
    const x = rate(mine, of).cpuPerRequest;
    const y = rate(mine, to).cpuPerRequest;
    if (x && y) perBlockCpu.push(y / x);
  }
  const mid = median(perBlock);
  const sd = robustSd(perBlock);
  const mean = perBlock.reduce((a, b) => a + b, 0) / perBlock.length;
  return {
    of,
    to,
    blocks: perBlock.length,
    perBlock,
    median: mid,
    mean,
    min: Math.min(...perBlock),
    max: Math.max(...perBlock),
    p25: quantile(perBlock, 0.25),
    p75: quantile(perBlock, 0.75),
    sd,
    blocksForPlusMinus003: blocksFor(sd),
    cpu: perBlockCpu.length
      ? {
          median: median(perBlockCpu),
          min: Math.min(...perBlockCpu),
          max: Math.max(...perBlockCpu),
          sd: robustSd(perBlockCpu),
          blocksForPlusMinus003: blocksFor(robustSd(perBlockCpu)),
        }
      : undefined,
  };
}

/** 1.4826 × the median absolute deviation: the sd of normal data, unmoved by a few disturbed blocks. */
function robustSd(values: number[]): number {
  const mid = median(values);
  return 1.4826 * median(values.map((r) => Math.abs(r - mid)));
}

/** Two runs' means of n blocks differ with a standard deviation of sd·√(2/n): within 0.03 at 1.96 of them. */
function blocksFor(sd: number): number {
  return Math.max(1, Math.ceil(2 * ((1.96 * sd) / 0.03) ** 2));
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  return sorted[low] + (sorted[Math.min(low + 1, sorted.length - 1)] - sorted[low]) * (at - low);
}

/**
 * `--only=paired`: every mode's app up at once on one Redis, the load alternating between them in
 * slices, per scenario (read, change); the ratios of `PAIRS` whose modes both ran.
 */
export async function measurePaired(options: BenchOptions, redis: BenchRedis, log: Log): Promise<PairedResult[]> {
  const modes = options.pairedModes;
  const loader = BenchChild.start('bench/load.ts', {});
  await loader.next('ready');
  const apps: RunningApp[] = [];
  try {
    await redis.admin.flushall();
    for (const mode of modes) apps.push(await startApp(mode, options, redis, [], { flush: false }));
    const pairs = PAIRS.filter(([of, to]) => modes.includes(of) && modes.includes(to));
    const results: PairedResult[] = [];
    for (const scenario of PAIRED_SCENARIOS) {
      const targets = apps.map((app) => ({ name: app.mode, pid: app.child.process.pid!, job: (s: number) => jobFor(app, scenario, s, options.connections) }));
      const ownPids = () => [process.pid, redis.pid, loader.process.pid!, ...apps.map((app) => app.child.process.pid!)];
      const plan = { blocks: options.blocks, sliceSeconds: options.slice, warmup: options.warmup, ownPids };
      results.push(await runPaired(scenario, targets, pairs, plan, loader, log));
    }
    return results;
  } finally {
    await Promise.all(apps.map((app) => app.child.stop()));
    await loader.stop();
  }
}

/** The paired ratios as a Markdown table. */
export function pairedTable(results: PairedResult[]): string {
  const f = (n: number) => n.toFixed(3);
  const rows = [
    '| comparison | ratio (req/s) | blocks | median | mean | p25–p75 | min–max | sd per block | blocks for ±0.03 run to run | by app CPU: median (min–max), sd, blocks for ±0.03 |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    for (const x of r.ratios) {
      const cpu = x.cpu ? `${f(x.cpu.median)} (${f(x.cpu.min)}–${f(x.cpu.max)}), ${f(x.cpu.sd)}, ${x.cpu.blocksForPlusMinus003}` : '–';
      rows.push(
        `| ${r.name} | ${x.of} ÷ ${x.to} | ${x.blocks} | **${f(x.median)}** | ${f(x.mean)} | ${f(x.p25)}–${f(x.p75)} | ${f(x.min)}–${f(x.max)} | ${f(x.sd)} | ${x.blocksForPlusMinus003} | ${cpu} |`,
      );
    }
  }
  return rows.join('\n');
}
