import { isCeiling, platformOf } from './apps/mode';
import { machineLine } from './machine';
import {
  CONTENDED_SCENARIOS,
  CONTENDED_TITLES,
  SCENARIO_TITLES,
  SCENARIOS,
  type BenchResults,
  type ContendedSummary,
  type ScenarioSummary,
  type Spread,
} from './results';
import { compact } from './targets';
import { metricsCostTable } from './metrics-cost';
import { pairedTable } from './paired';
import { breakdownTable, layoutsTable } from './memory-breakdown';
import { REDIS_CORE_US_PER_S, latencyTable } from './latency';

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const range = (s: Spread, digits: number) => `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;

/** The main table: one row per scenario and mode. */
export function throughputTable(summaries: ScenarioSummary[]): string {
  const rows = [
    '| scenario | mode | req/s median (min–max) | × ceiling, same round | p50 ms | p99 ms | errors | Redis cmds/req sent (executed) | round trips/req | app CPU µs/req | × ceiling by CPU | other load, cores (max) |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const scenario of SCENARIOS) {
    for (const s of summaries.filter((x) => x.scenario === scenario)) {
      rows.push(
        `| ${scenario} | ${s.mode} | ${int(s.rps.median)} (${int(s.rps.min)}–${int(s.rps.max)}) | ${s.ratio ? range(s.ratio, 2) : '–'} | ` +
          `${s.p50} | ${s.p99} | ${s.errors} | ${s.sentPerRequest.toFixed(2)} (${s.executedPerRequest.toFixed(2)}) | ${s.roundTripsPerRequest.toFixed(2)} | ` +
          `${s.appCpuPerRequest === undefined ? '–' : s.appCpuPerRequest.toFixed(0)} | ${s.cpuRatio ? range(s.cpuRatio, 2) : '–'} | ` +
          `${s.otherCores === undefined ? '–' : s.otherCores.toFixed(2)} |`,
      );
    }
  }
  return rows.join('\n');
}

/** Contended writes: one row per scenario and mode, with the additions each mode kept. */
export function contendedTable(summaries: ContendedSummary[]): string {
  const rows = [
    '| scenario | mode | req/s median (min–max) | × ceiling, same round | app CPU µs/req | × ceiling by CPU, same round | p99 ms median (min–max) | errors | Redis cmds/req sent = round trips (executed) | additions acknowledged → kept (lost per round) |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const scenario of CONTENDED_SCENARIOS) {
    for (const s of summaries.filter((x) => x.scenario === scenario)) {
      const kept = s.kept ? `${int(s.kept.acknowledged)} → ${int(s.kept.kept)} (${s.lostPerRound!.map(int).join(', ')})` : '–';
      rows.push(
        `| ${scenario} | ${s.mode} | ${int(s.rps.median)} (${int(s.rps.min)}–${int(s.rps.max)}) | ${s.ratio ? range(s.ratio, 2) : '–'} | ` +
          `${s.appCpuPerRequest === undefined ? '–' : s.appCpuPerRequest.toFixed(0)} | ${s.cpuRatio ? range(s.cpuRatio, 2) : '–'} | ` +
          `${range(s.p99, 0)} | ${s.errors} | ${s.sentPerRequest.toFixed(2)} (${s.executedPerRequest.toFixed(2)}) | ${kept} |`,
      );
    }
  }
  return rows.join('\n');
}

export function targetsTable(results: BenchResults): string {
  return [
    '| target | wanted | measured (ours) | | floor, same rounds |',
    '|---|---|---|---|---|',
    ...results.targets.map((t) => `| ${t.name} | ${t.wanted} | ${t.measured} | **${t.pass ? 'PASS' : 'MISS'}** | ${t.floor ?? '–'} |`),
  ].join('\n');
}

/** What the Fastify modes are, for the report: present only when a section ran them. */
export const FASTIFY_PARAGRAPH =
  '**On Fastify**: `none-fastify`, `ours-fastify` and `floor-fastify` are the same apps and controllers on ' +
  "Nest's `FastifyAdapter` (its defaults), each ratio taken to `none-fastify` in the same round; the floor's way in and " +
  'out run as `onRequest` and `onSend` hooks instead of Express middleware. `fastify-session` is the peer a Fastify user ' +
  'picks today: `@fastify/cookie` and `@fastify/session` over a small ioredis store (`bench/apps/fastify-session.app.ts`: ' +
  "one JSON string per session, TTL from the cookie's maxAge), configured as the connect-redis mode's express-session " +
  "(`saveUninitialized: false`, `rolling: false`, same cookie), with the connect-redis mode's controller.";

/** What the floor modes are, for the report: present only when the load section ran them. */
export const FLOOR_PARAGRAPH =
  '**The floor** (`floor`, `floor-cached`: `bench/apps/floor.app.ts`) is a measuring stick, not a product: the least a ' +
  'Redis-backed session layer can do per request on this stack, as one Express middleware mounted with `app.use` in the ' +
  "same Nest app. Way in: find the cookie, check its HMAC-SHA256 signature in constant time (ours' cookie format; a " +
  'cookie already verified is remembered, as ours does), name the key `prefix + SHA-256(id)`, one HGETALL, JSON.parse of ' +
  'each field into a plain `req.session`. Way out (`res.end` wrapped): JSON.stringify of each key compared with what was ' +
  'read, and the changed fields written in one round trip before the response ends, by a compare-and-set (one EVALSHA: ' +
  'each changed field must still hold what the request read, then HSET and PEXPIRE; a conflict answers 409), as a layer ' +
  'that loses no update must. No cookie: no Redis command. `floor-cached` reads each session from Redis once per process ' +
  'and then from a `Map` (no coherence at all, still parsing per request). It has no retry of a conflict, renewal, ' +
  "timeouts beyond the TTL, limits, events, metrics or express-session `Session` (passport's). A throughput target above the floor's ratio " +
  'in the same rounds is out of reach for any Redis session layer here.';

function commandsTable(summaries: ScenarioSummary[]): string {
  const rows = ['| scenario | mode | commands Redis executed per request (INFO commandstats; inside scripts included) |', '|---|---|---|'];
  for (const s of summaries) {
    if (isCeiling(s.mode)) continue;
    const list = Object.entries(s.commands)
      .filter(([, n]) => n >= 0.005)
      .map(([name, n]) => `${name} ${n.toFixed(2)}`)
      .join(', ');
    rows.push(`| ${s.scenario} | ${s.mode} | ${list || 'none'} |`);
  }
  return rows.join('\n');
}

function memoryTable(results: BenchResults): string {
  return [
    '| how the sessions were written | sessions | Redis bytes/session (used_memory delta) | MEMORY USAGE of one key | encoding | data bytes in the key |',
    '|---|---:|---:|---:|---|---:|',
    ...results.memory.map(
      (m) => `| ${m.label} | ${int(m.count)} | ${int(m.bytesPerSession)} | ${int(m.sampleKeyBytes)} | ${m.encoding} | ${int(m.payloadBytes)} |`,
    ),
  ].join('\n');
}

/** Each way of writing a session broken down by key and field, then the layout probes. */
export function memoryBreakdown(results: BenchResults): string[] {
  const out: string[] = [];
  const broken = results.memory.filter((m) => m.breakdown?.length);
  if (!broken.length) return out;
  out.push(
    '### By key and field, at Redis defaults',
    '',
    "MEMORY USAGE (SAMPLES 0) of one sample session's keys: the value, the key's name and its keyspace entry (a TTL adds an " +
      "entry in the expires table, which MEMORY USAGE leaves out and used_memory counts). A field's bytes are the key's less " +
      "those of a copy without it, in the key's encoding (a hash whose values exceed hash-max-listpack-value, 64 B, is a hashtable).",
    '',
  );
  for (const m of broken) out.push(breakdownTable(m.label, m.breakdown!), '');
  const probed = results.memory.find((m) => m.layouts?.length);
  const cr = results.memory.find((m) => m.mode === 'connect-redis');
  if (probed) {
    out.push(
      '### The same data in other layouts (scratch keys, MEMORY USAGE)',
      '',
      `The fields of one \`${probed.label}\` session written again in other shapes; connect-redis's key of the same data: ${cr?.sampleKeyBytes ?? '?'} B.`,
      '',
      layoutsTable(probed.layouts!, cr?.sampleKeyBytes),
      '',
    );
  }
  return out;
}

function logoutTable(results: BenchResults): string {
  return [
    '| mode | stored sessions | time, ms (median of runs) | runs, ms | sessions deleted | Redis commands |',
    '|---|---:|---:|---|---:|---:|',
    ...results.logout.map(
      (l) =>
        `| ${l.mode} | ${compact(l.stored)} | ${l.median.toFixed(2)} | ${l.times.map((t) => t.toFixed(2)).join(', ')} | ${l.deleted} | ${int(l.commands)} |`,
    ),
  ].join('\n');
}

/** The whole report as Markdown; `chartFile` is linked relative to the report. */
export function markdownReport(results: BenchResults, chartFile?: string): string {
  const o = results.options as { rounds: number; duration: number; contendedDuration: number; warmup: number; connections: number; sessions: number };
  const out = [
    `# Session layer benchmark${results.quick ? ' (quick run: indicative only)' : ''}`,
    '',
    `Run ${results.startedAt}. Machine: ${machineLine(results.machine)}.` +
      ((results.options.redisArgs as string[] | undefined)?.length
        ? ` redis-server extra arguments: \`${(results.options.redisArgs as string[]).join(' ')}\`.`
        : ''),
    '',
  ];
  if (results.summaries.length) {
    out.push(
      '## Throughput',
      '',
      `Same Nest 11 + Express app in three modes, each in its own process, one after another against one Redis on 127.0.0.1 ` +
        `(flushed before each mode): \`none\` (no session layer: the ceiling), \`connect-redis\` (express-session + connect-redis ` +
        `${results.machine.packages['connect-redis']} over ioredis with its default \`enableAutoPipelining: false\`, mounted with ` +
        `\`app.use(session(...))\`) and \`ours\` (\`SessionModule.forRoot\`). autocannon in a separate process, ${o.connections} connections, ` +
        `${o.duration} s per run after ${o.warmup} s of warm-up, ${o.rounds} round(s) with the order of modes rotating; ` +
        `${o.sessions} logged-in sessions (user + 3-line cart) per mode, one cookie per request round-robin.`,
      '',
      ...(results.summaries.some((s) => platformOf(s.mode) === 'fastify') ? [FASTIFY_PARAGRAPH, ''] : []),
      SCENARIOS.map((s) => `- **${s}**: ${SCENARIO_TITLES[s]}`).join('\n'),
      '',
      throughputTable(results.summaries),
      '',
      ...(results.summaries.some((s) => s.mode === 'floor' || s.mode === 'floor-cached') ? [FLOOR_PARAGRAPH, ''] : []),
      'req/s counts 2xx answers. "sent" is what the app\'s Redis client wrote (an EVALSHA is one command); "executed" is ' +
        'INFO commandstats, which also counts the calls a Lua script makes. Round trips are traced over requests sent one at a time. ' +
        '"App CPU" is the CPU time of the app process (all its threads) per request served; the app process is the bottleneck, ' +
        'so "× ceiling by CPU" (the ceiling\'s CPU per request over this mode\'s) predicts the throughput ratio and is ' +
        'far less sensitive to other load on the machine. "Other load" is the CPU that processes other than the bench\'s ' +
        "used during a run (of the machine's cores): above ~0.2 the req/s figures of that run are disturbed.",
      '',
      '### Cost of metrics (`ours-metrics` is `ours` with `metrics: true`)',
      '',
      metricsCostTable(results.runs),
      '',
      '### Cost of encryption at rest (`ours-encrypted` is `ours` with `encryption: { keys: [one key] }`)',
      '',
      'Every session value sealed with AES-256-GCM on write and opened on read; the bytes a session takes in Redis are in the memory section.',
      '',
      metricsCostTable(results.runs, 'ours-encrypted'),
      '',
      commandsTable(results.summaries),
      '',
    );
  }
  if (results.paired?.length) {
    out.push(
      '## Paired comparison: every mode up at once, the load alternating',
      '',
      `Every mode's app runs at once on one Redis; the load (${o.connections} connections) goes to one of them at a time, in slices of ` +
        `${results.paired[0].sliceSeconds} s, in blocks that run the modes forwards and then backwards (A B C C B A), so each mode's two ` +
        "slices in a block are centred on the same moment and a drift linear over the block cancels. A block's ratio is one mode's " +
        'req/s over the other\'s in that block; the table gives the blocks\' median and spread. "Blocks for ±0.03": how many blocks ' +
        'two runs need for their mean ratios to agree within 0.03, 95 times in 100, from the spread seen here (2·(1.96·sd/0.03)²).' +
        (results.paired.some((p) => (p.otherCores ?? 0) > 0.25) ? ' Other processes were busy during some slices (see "other cores" in latest.json).' : ''),
      '',
      pairedTable(results.paired),
      '',
    );
  }
  if (results.latency?.length) {
    const rate = results.latency[0].rate;
    out.push(
      '## Latency at a fixed rate, with Redis across a network',
      '',
      `Each mode alone, ${rate} requests per second sent at a steady pace (an open loop: the rate does not wait for answers), ` +
        'latency from sending a request to the end of its answer, at the µs. With an RTT, every app reaches Redis through ' +
        '`bench/rtt-proxy.ts`, a process that holds each chunk half the RTT in each direction, in order. Redis CPU per 1,000 ' +
        "requests: INFO commandstats' usec over the run (a script's time whole, the commands it ran not again), and redis-server's " +
        `own CPU time (network I/O included). Requests per Redis core assume one core of ${REDIS_CORE_US_PER_S.toLocaleString('en-US')} µs ` +
        'per second: what a replica fleet can serve is what Redis can serve divided by its cost per request.',
      '',
      latencyTable(results.latency),
      '',
    );
  }
  if (results.wide?.length) {
    out.push(
      '## Wide sessions: a one-key change in a 50-key session',
      '',
      'One app per mode; half its sessions hold 3 top-level keys (the user, the cart, `k0`), half hold 50 (the user, the cart, ' +
        '`k0`…`k47`, small objects). Each request changes one key through the end-of-request save (`POST /prefs/k…`). The load ' +
        'alternates between the narrow and the wide sessions of the same process, in palindromic blocks as in the paired ' +
        'comparison; the ratio is req/s on wide sessions over req/s on narrow ones (1: the change costs the same at any width).',
      '',
      pairedTable(results.wide),
      '',
    );
  }
  if (results.contendedSummaries?.length) {
    out.push(
      '## Contended writes: many requests, one session',
      '',
      `The same apps and load as above, but every connection writes the same session (or one of four), as a burst of ` +
        `parallel requests from one user does (a single-page app firing requests at once, several tabs, a retry storm). ` +
        `\`ours\` adds to the cart with \`SessionService.update\` (compare-and-set of the \`cart\` key), \`connect-redis\` ` +
        `changes \`req.session.cart\` and lets express-session save the whole session. ${o.rounds} round(s), ${o.contendedDuration} s each after ` +
        `${o.warmup} s of warm-up, ${o.connections} connections (split evenly over the replicas); the ceiling runs as many processes. ` +
        `The ceiling is measured again right before every run of a session mode, in the same scenario, and that run's ratios ` +
        `are to it: this machine's speed drifts over minutes, so a ceiling seconds away is the fair yardstick (its row sums up all those runs).`,
      '',
      CONTENDED_SCENARIOS.map((s) => `- **${s}**: ${CONTENDED_TITLES[s]}`).join('\n'),
      '',
      contendedTable(results.contendedSummaries),
      '',
      '"Acknowledged" counts the 2xx answers the app(s) finished sending to "add one" during the measured run; "kept" is how ' +
        'much the cart quantity grew meanwhile, read back from Redis through the app once no request was in flight. A mode that ' +
        'loses updates keeps fewer than it acknowledged. Every command a request sends waits for the reply to the one before, in ' +
        'both session modes, so commands sent per request are also its round trips (a retried compare-and-set is one more).',
      '',
    );
  }
  if (chartFile) out.push(`![throughput, logout and memory](${chartFile})`, '');
  if (results.targets.length) {
    out.push('## Targets', '', targetsTable(results), '');
    if (results.targets.some((t) => t.floor))
      out.push('"Floor": the same target as the floor reached it (× ceiling in the same rounds), the least any Redis session layer does (see Throughput).', '');
  }
  if (results.memory.length) {
    out.push('## Redis memory per session', '', memoryTable(results), '');
    out.push(...memoryBreakdown(results));
  }
  const cached = results.nearCacheMemory;
  if (cached) {
    out.push(
      '## Near cache: app memory per entry',
      '',
      `${cached.perEntryBytes.toFixed(0)} B of heap per cached session (the bench's user and 3-line cart): ${cached.count.toLocaleString('en-US')} ` +
        `sessions read once through \`RedisSessionStore.get\`, the heap measured after a full GC before and after, ${cached.withCacheBytes.toFixed(0)} B ` +
        `retained per session with \`nearCache: true\` less ${cached.withoutCacheBytes.toFixed(0)} B without it.`,
      '',
    );
  }
  if (results.logout.length) {
    out.push(
      '## Log out everywhere (one user with 5 sessions)',
      '',
      'Ours: `SessionService.logoutEverywhere` (per-user index). connect-redis has no index: SCAN of every key (COUNT 1000), ' +
        'MGET per batch, parse, `store.destroy` of the matches — streamed, so memory stays bounded (`store.all()` would hold every session at once).',
      '',
      logoutTable(results),
      '',
    );
  }
  if (results.staleness?.length) {
    out.push(
      '## Near cache: the staleness window',
      '',
      'Two `ours-near-cache` app processes on one Redis: replica A changes a key of a session (or logs a fresh session out) while ' +
        'replica B, whose near cache holds it, reads it in a tight loop, one read at a time. "Stale after the answer": reads of B that ' +
        "started after A answered and still showed the old state; the window runs from A's answer to the start of the last of them.",
      '',
      stalenessTable(results),
      '',
    );
  }
  if (results.outage?.length) {
    out.push(
      '## Redis away: how soon a request answers 503',
      '',
      "An `ours` app with the default `redisDeadline` (1 s) on a Redis of the section's own, reading one session. " +
        'Hangs: `CLIENT PAUSE` (connections up, nothing answered), bursts of 20 requests at once. Refuses: the server stopped, ' +
        'requests one at a time. The tests assert only the deadline plus a margin; these are the figures.',
      '',
      outageTable(results),
      '',
    );
  }
  if (results.profile) out.push(results.profile, '');
  return out.join('\n');
}

/** Time to a 503 while Redis is away, in ms. */
function outageTable(results: BenchResults): string {
  const ms = (n: number) => n.toFixed(1);
  const rows = ['| Redis | requests | not 503 | answered after, p50 / p99 / max (ms) |', '|---|---:|---:|---:|'];
  for (const o of results.outage ?? []) rows.push(`| ${o.redis} | ${int(o.requests)} | ${int(o.not503)} | ${ms(o.p50)} / ${ms(o.p99)} / ${ms(o.max)} |`);
  return rows.join('\n');
}

/** The near cache's staleness probe: one row per kind of change, times in ms. */
function stalenessTable(results: BenchResults): string {
  const ms = (n: number) => n.toFixed(2);
  const rows = [
    '| change on A | trials | reads of B | stale after the answer | window after the answer, p50 / p99 / max | visible on B after sending, p50 / p99 / max |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const s of results.staleness ?? []) {
    const { windowAfterAnswer: w, visibleAfter: v } = s;
    rows.push(
      `| ${s.kind} | ${int(s.trials)} | ${int(s.reads)} | ${int(s.staleReadsAfterAnswer)} | ${ms(w.p50)} / ${ms(w.p99)} / ${ms(w.max)} | ${ms(v.p50)} / ${ms(v.p99)} / ${ms(v.max)} |`,
    );
  }
  return rows.join('\n');
}
