import { resolve } from 'node:path';
import { MODES, PLATFORMS, ceilingOf, platformOf, type Mode, type Platform } from './apps/mode';
import { ROOT } from './children';

export type Section = 'load' | 'paired' | 'latency' | 'wide' | 'contended' | 'memory' | 'logout' | 'staleness' | 'outage' | 'profile';
const SECTIONS: Section[] = ['load', 'paired', 'latency', 'wide', 'contended', 'memory', 'logout', 'staleness', 'outage', 'profile'];
/** Every section but the profiles. */
const DEFAULT_SECTIONS = SECTIONS.filter((s) => s !== 'profile');

/** What one bench run does; `--quick` shrinks every count and duration. */
export interface BenchOptions {
  quick: boolean;
  sections: Set<Section>;
  rounds: number;
  /** Seconds of measured load per mode and scenario. */
  duration: number;
  /** Seconds of measured load per mode and contended scenario (shorter in a quick run: there are four). */
  contendedDuration: number;
  /** Seconds of unmeasured load first, so the JIT has warmed up. */
  warmup: number;
  connections: number;
  /** Seeded sessions per mode; cookies go round-robin, one per request. */
  sessions: number;
  /** Sequential requests that trace round trips after each scenario. */
  probeRequests: number;
  memoryCount: number;
  /** Logins through HTTP for the "as login leaves it" memory figure. */
  memoryLoginCount: number;
  /** Sessions per measured batch of the near cache's weighing (two batches and a warm-up stay below its 10,000 entries). */
  nearCacheMemoryCount: number;
  logoutSizes: number[];
  /** Trials of each staleness probe (a change, a logout). */
  stalenessTrials: number;
  /** Pauses of Redis in the outage section (20 requests each; as many again while Redis refuses). */
  outageRounds: number;
  /** Seconds of load while the `ours` app runs under --cpu-prof. */
  profileDuration: number;
  /** Paired and wide sections: seconds of load per slice, and palindromic blocks of slices. */
  slice: number;
  blocks: number;
  /** The platforms whose modes run (`--platforms`): Express, Fastify or both. */
  platforms: Platform[];
  /** `--modes`: the only modes the load and contended sections run (with their platforms' ceilings); undefined: all of `platforms`. */
  modes?: Mode[];
  /** The modes the paired section keeps up at once. */
  pairedModes: Mode[];
  /** Latency section: round trip added between every app and Redis, ms (0: no proxy). */
  redisRtt: number;
  /** Latency section: requests per second, paced. */
  rate: number;
  outDir: string;
}

const USAGE = `Usage: npm run bench -- [options]
  --quick              1 round of short runs and small counts (a few minutes)
  --rounds=N           rounds of load, modes alternating within each (default 3; quick 1)
  --duration=S         seconds of measured load per mode and scenario (default 10; quick 3)
  --connections=N      autocannon connections (default 50)
  --profile            also run the ours app under node --cpu-prof and summarise where its time goes
  --only=a,b           sections to run: ${SECTIONS.join(', ')} (default: all but profile)
  --slice=S            paired and wide sections: seconds of load per slice (default 1.5; quick 1)
  --blocks=N           paired and wide sections: blocks of slices, each target twice (default 20; quick 4)
  --platforms=a,b      the HTTP platforms whose modes run: express, fastify (default both)
  --modes=a,b          only these modes, each with its platform's ceiling (none, none-fastify), in the load,
                       contended and paired sections (default: every mode of the platforms; the paired section's
                       default is none,ours,floor,ours-near-cache,floor-cached on Express and
                       none-fastify,ours-fastify,floor-fastify,fastify-session on Fastify; quick: the first three of each)
  --redis-rtt=MS       latency section: round trip a proxy adds between every app and Redis (default 0.5; 0: no proxy)
  --rate=N             latency section: requests per second, paced (default 300)
  --out=DIR            where the report goes (default artifacts/bench)`;

export function parseOptions(argv: string[]): BenchOptions {
  const flags = new Map<string, string>();
  for (const arg of argv) {
    if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    }
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match) throw new Error(`unknown argument "${arg}"\n${USAGE}`);
    flags.set(match[1], match[2] ?? 'true');
  }
  const known = ['quick', 'rounds', 'duration', 'connections', 'profile', 'only', 'out', 'slice', 'blocks', 'modes', 'platforms', 'redis-rtt', 'rate'];
  for (const name of flags.keys()) if (!known.includes(name)) throw new Error(`unknown option --${name}\n${USAGE}`);

  const quick = flags.get('quick') === 'true';
  const sections = new Set<Section>(flags.has('only') ? (flags.get('only')!.split(',') as Section[]) : DEFAULT_SECTIONS);
  if (flags.get('profile') === 'true') sections.add('profile');
  for (const s of sections) {
    if (!SECTIONS.includes(s)) throw new Error(`--only: unknown section "${s}"`);
  }
  const platforms = (flags.get('platforms') ?? PLATFORMS.join(',')).split(',') as Platform[];
  for (const platform of platforms)
    if (!PLATFORMS.includes(platform)) throw new Error(`--platforms: unknown platform "${platform}" (one of ${PLATFORMS.join(', ')})`);
  const modes = flags.has('modes') ? (flags.get('modes')!.split(',') as Mode[]) : undefined;
  for (const mode of modes ?? []) {
    if (!MODES.includes(mode)) throw new Error(`--modes: unknown mode "${mode}" (one of ${MODES.join(', ')})`);
    if (!platforms.includes(platformOf(mode))) throw new Error(`--modes: "${mode}" runs on ${platformOf(mode)}, which --platforms leaves out`);
  }
  const pairedModes = modes ? withCeilings(modes) : defaultPairedModes(platforms, quick);
  return {
    quick,
    sections,
    rounds: count(flags, 'rounds', quick ? 1 : 3),
    duration: count(flags, 'duration', quick ? 3 : 10),
    contendedDuration: flags.has('duration') ? count(flags, 'duration', 10) : quick ? 2 : 10,
    warmup: quick ? 1 : 3,
    connections: count(flags, 'connections', 50),
    sessions: 200,
    probeRequests: quick ? 20 : 50,
    memoryCount: quick ? 10_000 : 100_000,
    memoryLoginCount: quick ? 1_000 : 5_000,
    nearCacheMemoryCount: 4_000,
    logoutSizes: quick ? [1_000, 10_000, 100_000] : [10_000, 100_000, 1_000_000],
    stalenessTrials: quick ? 200 : 2_000,
    outageRounds: quick ? 2 : 10,
    profileDuration: quick ? 5 : 15,
    slice: number(flags, 'slice', quick ? 1 : 1.5, 0.2),
    blocks: count(flags, 'blocks', quick ? 4 : 20),
    platforms,
    modes,
    pairedModes,
    redisRtt: number(flags, 'redis-rtt', 0.5, 0),
    rate: count(flags, 'rate', 300),
    outDir: resolve(ROOT, flags.get('out') ?? 'artifacts/bench'),
  };
}

/** What the paired section compares when `--modes` does not say: the ceiling, ours and the floors, and Fastify's peer. */
function defaultPairedModes(platforms: Platform[], quick: boolean): Mode[] {
  const byPlatform: Record<Platform, Mode[]> = {
    express: ['none', 'ours', 'floor', 'ours-near-cache', 'floor-cached'],
    fastify: ['none-fastify', 'ours-fastify', 'floor-fastify', 'fastify-session'],
  };
  return platforms.flatMap((platform) => (quick ? byPlatform[platform].slice(0, 3) : byPlatform[platform]));
}

/** `modes` with the ceiling of each one's platform put first where missing: every ratio needs its ceiling. */
function withCeilings(modes: Mode[]): Mode[] {
  const ceilings = [...new Set(modes.map(ceilingOf))].filter((ceiling) => !modes.includes(ceiling));
  return [...ceilings, ...modes];
}

/**
 * The modes of `all` (a section's own list, in its order) that a run takes: those of its platforms,
 * only those `--modes` names when it names some, and their platforms' ceilings.
 */
export function modesFor(options: Pick<BenchOptions, 'platforms' | 'modes'>, all: Mode[]): Mode[] {
  const chosen = all.filter((mode) => options.platforms.includes(platformOf(mode)) && (!options.modes || options.modes.includes(mode)));
  const ceilings = new Set(chosen.map(ceilingOf));
  return all.filter((mode) => chosen.includes(mode) || ceilings.has(mode));
}

function count(flags: Map<string, string>, name: string, fallback: number): number {
  if (!flags.has(name)) return fallback;
  const value = Number(flags.get(name));
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a whole number of at least 1`);
  return value;
}

/** A decimal option of at least `least`. */
function number(flags: Map<string, string>, name: string, fallback: number, least: number): number {
  if (!flags.has(name)) return fallback;
  const value = Number(flags.get(name));
  if (!Number.isFinite(value) || value < least) throw new Error(`--${name} must be a number of at least ${least}`);
  return value;
}
