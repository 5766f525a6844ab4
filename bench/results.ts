import type { StalenessReport } from '../test/support/staleness-probe';
import type { Mode } from './apps/mode';
import type { LoadResult } from './load';

export type Scenario = 'read' | 'write' | 'no-cookie';
export const SCENARIOS: Scenario[] = ['read', 'write', 'no-cookie'];
export const SCENARIO_TITLES: Record<Scenario, string> = {
  read: 'read an existing session (GET /cart + cookie)',
  write: 'change it (POST /cart/items + cookie)',
  'no-cookie': 'visitor without a cookie (GET /cart)',
};

/** Scenarios where many requests write the same session at once (issue 14), beside the spread `write`. */
export type ContendedScenario = 'one-session' | 'one-session-two-replicas' | 'four-sessions' | 'one-session-keys';
export const CONTENDED_SCENARIOS: ContendedScenario[] = ['one-session', 'one-session-two-replicas', 'four-sessions', 'one-session-keys'];
export const CONTENDED_TITLES: Record<ContendedScenario, string> = {
  'one-session': 'every connection adds one to the cart of ONE session (POST /cart/items), one app process',
  'one-session-two-replicas': 'the same, the connections split over two app processes sharing the session (two replicas)',
  'four-sessions': 'the same over four sessions (a handful of users, each bursting), one app process',
  'one-session-keys':
    'ONE session, each request sets a different top-level key (POST /prefs/k0..k49, a new value each time) through the end-of-request save, one app process',
};

/** Additions the app acknowledged during a measured run, and how many the session kept. */
export interface KeptAdditions {
  /** 2xx answers the app(s) finished sending to "add one". */
  acknowledged: number;
  /** 2xx answers the load generator received (fewer when a run ends with answers in flight). */
  received: number;
  /** Growth of the cart quantity, read back from Redis through the app after the run. */
  kept: number;
}

/** One mode under one contended scenario in one round. */
export interface ContendedRun {
  round: number;
  mode: Mode;
  scenario: ContendedScenario;
  load: LoadResult;
  /** Commands Redis executed per request answered, inside scripts included. */
  executedPerRequest: number;
  /** Commands the app clients sent per request answered: each waits for the one before, so also round trips per request. */
  sentPerRequest: number;
  commands: Record<string, number>;
  /** rps / the ceiling's rps in the same round and scenario. */
  ratio?: number;
  otherCores?: number;
  /** Undefined for the ceiling, which keeps nothing, and for the different-keys scenario. */
  kept?: KeptAdditions;
  /** CPU the app process(es) used per request served, µs (Linux only): steadier than req/s on a busy machine. */
  appCpuPerRequest?: number;
  /** The ceiling's appCpuPerRequest / this one, same round and scenario. */
  cpuRatio?: number;
}

/** Every round of one mode and contended scenario, summarised. */
export interface ContendedSummary {
  mode: Mode;
  scenario: ContendedScenario;
  rps: Spread;
  ratio?: Spread;
  p99: Spread;
  errors: number;
  executedPerRequest: number;
  sentPerRequest: number;
  commands: Record<string, number>;
  otherCores?: number;
  /** Summed over the rounds. */
  kept?: KeptAdditions;
  /** Acknowledged additions not in the session, per round. */
  lostPerRound?: number[];
  appCpuPerRequest?: number;
  cpuRatio?: Spread;
}

/** One mode under one scenario in one round. */
export interface ScenarioRun {
  round: number;
  mode: Mode;
  scenario: Scenario;
  load: LoadResult;
  /** Commands Redis executed per request served (INFO commandstats delta), scripts' inner calls included. */
  executedPerRequest: number;
  /** Commands the app's client sent per request served (an EVALSHA is one). */
  sentPerRequest: number;
  /** Sequential round trips per request, traced over a few requests one at a time. */
  roundTripsPerRequest: number;
  /** commandstats delta per request served, by command. */
  commands: Record<string, number>;
  /** rps / the ceiling's rps in the same round. */
  ratio?: number;
  /** Cores other processes on the machine kept busy during the measured load (Linux only). */
  otherCores?: number;
  /** CPU the app process used per request served, µs (Linux only): steadier than req/s on a busy machine. */
  appCpuPerRequest?: number;
  /** The ceiling's appCpuPerRequest / this one, same round. */
  cpuRatio?: number;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** Every round of one mode and scenario, summarised. */
export interface ScenarioSummary {
  mode: Mode;
  scenario: Scenario;
  rps: Spread;
  ratio?: Spread;
  p50: number;
  p99: number;
  errors: number;
  executedPerRequest: number;
  sentPerRequest: number;
  roundTripsPerRequest: number;
  commands: Record<string, number>;
  /** Highest `otherCores` of the runs: how much the rest of the machine interfered. */
  otherCores?: number;
  appCpuPerRequest?: number;
  cpuRatio?: Spread;
}

/** The near cache's cost in the app's memory: heap bytes per cached session, with and without the cache. */
export interface NearCacheMemoryResult {
  /** Sessions per measured batch (two batches and a warm-up, all held: below `nearCache.maxEntries`, 10,000). */
  count: number;
  /** Heap retained per session read, with the near cache on (its entries, plus whatever any read keeps). */
  withCacheBytes: number;
  /** The same with the cache off: what a read keeps anyway (the cookie digests remembered, and so on). */
  withoutCacheBytes: number;
  /** The difference: what one near-cache entry costs. */
  perEntryBytes: number;
}

export interface MemoryResult {
  label: string;
  mode: Mode;
  count: number;
  bytesPerSession: number;
  sampleKeyBytes: number;
  /** Bytes of data in the sample key (string length, or field names and values of a hash). */
  payloadBytes: number;
  encoding: string;
  /** The keys one session of these takes, by key and field (`bench/memory-breakdown.ts`). */
  breakdown?: KeyBreakdown[];
  /** The same data in other layouts (each value whole, in pieces, one JSON string), written to scratch keys and measured the same way. */
  layouts?: LayoutProbe[];
}

/** One Redis key of a session: what MEMORY USAGE says of it and of each of its fields or members. */
export interface KeyBreakdown {
  role: string;
  key: string;
  type: string;
  encoding: string;
  /** MEMORY USAGE (SAMPLES 0): the value, the key's name and its entry in the keyspace. */
  bytes: number;
  hasTtl: boolean;
  /** For keys shared by many sessions (e.g. activity buckets): their bytes over the sessions stored. */
  sharedPerSession?: number;
  fields?: FieldBreakdown[];
}

export interface FieldBreakdown {
  field: string;
  nameBytes: number;
  valueBytes: number;
  /** MEMORY USAGE of the key less that of a copy without this field (or member): what the field costs, in its key's encoding. */
  marginalBytes: number;
}

/** The same session written another way to a scratch key. */
export interface LayoutProbe {
  layout: string;
  bytes: number;
  encoding: string;
  /** What the layout keeps of today's: one-field writes, a compare-and-set per top-level key. */
  note: string;
}

export interface LogoutResult {
  mode: Mode;
  stored: number;
  /** Milliseconds, one per repetition. */
  times: number[];
  median: number;
  deleted: number;
  /** Redis commands the logout took (commandstats delta). */
  commands: number;
}

export interface Target {
  name: string;
  wanted: string;
  measured: string;
  pass: boolean;
  /** The floor's figure for the same target in the same rounds (`bench/apps/floor.app.ts`), where it has one. */
  floor?: string;
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  redis: string;
  packages: Record<string, string>;
}

export interface BenchResults {
  startedAt: string;
  finishedAt?: string;
  quick: boolean;
  options: Record<string, unknown>;
  machine: Machine;
  runs: ScenarioRun[];
  summaries: ScenarioSummary[];
  contended: ContendedRun[];
  contendedSummaries: ContendedSummary[];
  memory: MemoryResult[];
  /** Heap bytes per near-cache entry (`bench/near-cache-memory.ts`). */
  nearCacheMemory?: NearCacheMemoryResult;
  logout: LogoutResult[];
  /** Issue 10: the near cache's staleness window, by kind of change. */
  staleness?: StalenessResult[];
  /** How soon a request answers 503 while Redis hangs or refuses (`bench/outage.ts`). */
  outage?: OutageResult[];
  targets: Target[];
  profile?: string;
  /** Paired, interleaved comparisons of the modes (`bench/paired.ts`). */
  paired?: PairedResult[];
  /** Latency at a fixed request rate, with and without a network between the apps and Redis (`bench/latency.ts`). */
  latency?: LatencyRun[];
  /** A one-key change in a 50-key session against the same in a 3-key one, paired (`bench/wide.ts`). */
  wide?: PairedResult[];
}

/** One staleness probe of the near cache (`bench/staleness.ts`): a change or a logout through replica A, read through B. */
export type StalenessResult = { kind: 'change' | 'logout' } & StalenessReport;

/** Requests of one session while Redis hangs (`CLIENT PAUSE`) or refuses (stopped): how long each took to answer 503. */
export interface OutageResult {
  redis: 'hangs' | 'refuses';
  /** The app's `redisDeadline` (the library's default), ms. */
  redisDeadline: number;
  requests: number;
  /** Requests that answered anything but 503 (none expected). */
  not503: number;
  p50: number;
  p99: number;
  max: number;
}

/** One slice of load on one target of a paired comparison (`bench/paired.ts`). */
export interface PairedSlice {
  block: number;
  target: string;
  /** 2xx answers and the seconds they took. */
  ok: number;
  seconds: number;
  errors: number;
  /** CPU the target's app process used during the slice, ms (Linux only). */
  cpuMs?: number;
  otherCores?: number;
}

/** A ratio of two targets taken block by block, each block's slices neighbours in time. */
export interface PairedRatio {
  /** `of` ÷ `to`: req/s of `of` over req/s of `to`. */
  of: string;
  to: string;
  blocks: number;
  perBlock: number[];
  median: number;
  mean: number;
  min: number;
  max: number;
  /** 25th and 75th percentiles of the per-block ratios. */
  p25: number;
  p75: number;
  /** Standard deviation of the per-block ratios (robust: 1.4826 × their median absolute deviation). */
  sd: number;
  /** Blocks whose mean ratio holds within ±0.03 from run to run, 95 times in 100 (2 runs, independent blocks). */
  blocksForPlusMinus003: number;
  /** The same ratio by app CPU per request: `to`'s µs per request over `of`'s. */
  cpu?: { median: number; min: number; max: number; sd: number; blocksForPlusMinus003: number };
}

/** One paired comparison: the targets, every slice and the ratios asked for. */
export interface PairedResult {
  /** What the comparison measures, e.g. "read" or "wide vs narrow, ours". */
  name: string;
  targets: string[];
  sliceSeconds: number;
  slices: PairedSlice[];
  ratios: PairedRatio[];
  /** Highest cores other processes used during any block. */
  otherCores?: number;
}

/** One mode and scenario at a fixed request rate, Redis `rttMs` away (`bench/latency.ts`). */
export interface LatencyRun {
  rttMs: number;
  /** PING's p50 from the app's side of the proxy, ms: the round trip actually added, the proxy's own hop included. */
  pingMs?: number;
  mode: Mode;
  scenario: Scenario;
  /** Requests per second asked, and sent. */
  rate: number;
  sentRate: number;
  requests: number;
  errors: number;
  /** ms, from sending the request to the end of its answer. */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Redis CPU per 1,000 requests by INFO commandstats, µs: scripts whole, commands they ran not again. */
  redisUsecPer1000: number;
  /** The same by redis-server's own CPU time (/proc schedstat): network I/O and everything else included. */
  redisCpuUsPer1000?: number;
  /** Commands Redis executed per request (inside scripts included), and what the app's clients sent. */
  executedPerRequest: number;
  sentPerRequest: number;
  /** CPU of the latency proxy per 1,000 requests, µs (its polling included). */
  proxyCpuUsPer1000?: number;
}
