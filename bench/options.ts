import { resolve } from 'node:path';
import { MODES, type Mode } from './apps/mode';
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
  --modes=a,b          paired section: the modes kept up at once (default none,ours,floor,ours-near-cache,floor-cached; quick none,ours,floor)
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
  const known = ['quick', 'rounds', 'duration', 'connections', 'profile', 'only', 'out', 'slice', 'blocks', 'modes', 'redis-rtt', 'rate'];
  for (const name of flags.keys()) if (!known.includes(name)) throw new Error(`unknown option --${name}\n${USAGE}`);

  const quick = flags.get('quick') === 'true';
  const sections = new Set<Section>(flags.has('only') ? (flags.get('only')!.split(',') as Section[]) : DEFAULT_SECTIONS);
  if (flags.get('profile') === 'true') sections.add('profile');
  for (const s of sections) {
    if (!SECTIONS.includes(s)) throw new Error(`--only: unknown section "${s}"`);
  }
  const pairedModes = (flags.get('modes') ?? (quick ? 'none,ours,floor' : 'none,ours,floor,ours-near-cache,floor-cached')).split(',') as Mode[];
  for (const mode of pairedModes) if (!MODES.includes(mode)) throw new Error(`--modes: unknown mode "${mode}" (one of ${MODES.join(', ')})`);
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
    logoutSizes: quick ? [1_000, 10_000, 100_000] : [10_000, 100_000, 1_000_000],
    stalenessTrials: quick ? 200 : 2_000,
    outageRounds: quick ? 2 : 10,
    profileDuration: quick ? 5 : 15,
    slice: number(flags, 'slice', quick ? 1 : 1.5, 0.2),
    blocks: count(flags, 'blocks', quick ? 4 : 20),
    pairedModes,
    redisRtt: number(flags, 'redis-rtt', 0.5, 0),
    rate: count(flags, 'rate', 300),
    outDir: resolve(ROOT, flags.get('out') ?? 'artifacts/bench'),
  };
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
