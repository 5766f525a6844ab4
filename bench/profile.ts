import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CONTENDED_MODES, MODES as ALL_MODES, platformOf, type Mode } from './apps/mode';
import { BenchChild, ROOT } from './children';
import type { BenchOptions } from './options';
import { SESSION_LAYERS, readProfile, summariseProfile, topAttributedRows, topSelfRows, type ProfileSummary } from './profile-summary';
import { QuietWaiter } from './interference';
import type { BenchRedis } from './redis';
import { SCENARIOS, type Scenario } from './results';
import { jobFor, load, startApp, type RunningApp } from './throughput';

type Log = (line: string) => void;

/** The spread scenarios, and `one-session`: every connection adds to the cart of one session (issue 14's contended write). */
type ProfiledScenario = Scenario | 'one-session';
/** `BENCH_PROFILE_SCENARIOS=one-session` (comma-separated) profiles only those scenarios. */
const PROFILED_SCENARIOS: ProfiledScenario[] = ((all: ProfiledScenario[]) => {
  const only = process.env.BENCH_PROFILE_SCENARIOS?.split(',');
  return only ? all.filter((scenario) => only.includes(scenario)) : all;
})([...SCENARIOS, 'one-session']);
/**
 * `BENCH_PROFILE_MODES=none,ours-near-cache` (comma-separated) profiles those modes instead of the
 * contended ones of Express (`none-fastify,ours-fastify` and the like profile Fastify's).
 */
const MODES: Mode[] = ((only: string[] | undefined) =>
  only ? ALL_MODES.filter((mode) => only.includes(mode)) : CONTENDED_MODES.filter((mode) => platformOf(mode) === 'express'))(
  process.env.BENCH_PROFILE_MODES?.split(','),
);

interface Profiled {
  mode: Mode;
  scenario: ProfiledScenario;
  requests: number;
  rps: number;
  file: string;
  summary: ProfileSummary;
}

/**
 * Every mode under every scenario in an app started with `node --cpu-prof`; only the samples of the
 * measured load window count. Returns the Markdown section: CPU per request by layer for each mode
 * (the differences with `none` are what a session layer costs), then where ours spends it.
 */
export async function runProfiles(options: BenchOptions, redis: BenchRedis, log: Log): Promise<string> {
  const dir = join(options.outDir, 'profiles');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const loader = BenchChild.start('bench/load.ts', {});
  await loader.next('ready');
  const profiled: Profiled[] = [];
  const quiet = new QuietWaiter(9 * options.profileDuration * 250);
  try {
    for (const scenario of PROFILED_SCENARIOS) {
      for (const mode of MODES) {
        const name = `${mode}-${scenario}.cpuprofile`;
        const app = await startApp(mode, options, redis, ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}`]);
        try {
          await load(loader, profiledJob(app, scenario, options.warmup, options.connections));
          await quiet.wait(() => [process.pid, redis.pid, app.child.process.pid!, loader.process.pid!], 10_000);
          const from = (await app.child.ask<{ us: number }>({ type: 'mark' })).us;
          const result = await load(loader, profiledJob(app, scenario, options.profileDuration, options.connections));
          const to = (await app.child.ask<{ us: number }>({ type: 'mark' })).us;
          await app.child.stop();
          const file = join(dir, name);
          if (!existsSync(file)) throw new Error(`no profile written at ${file}`);
          const summary = summariseProfile(readProfile(file), from, to);
          profiled.push({ mode, scenario, requests: result.requests, rps: result.rps, file, summary });
          log(
            `  ${mode.padEnd(13)} ${scenario.padEnd(11)} ${result.rps.toFixed(0).padStart(6)} req/s  ${perRequest(summary.busyMs, result.requests).toFixed(0)} µs CPU/request`,
          );
        } finally {
          await app.child.stop();
        }
      }
    }
  } finally {
    await loader.stop();
  }
  return profileMarkdown(profiled);
}

/** `one-session` is the spread write with only the first session's cookie, so every connection writes it. */
function profiledJob(app: RunningApp, scenario: ProfiledScenario, duration: number, connections: number) {
  if (scenario === 'one-session') return { ...jobFor(app, 'write', duration, connections), cookies: app.cookies.slice(0, 1) };
  return jobFor(app, scenario, duration, connections);
}

function perRequest(ms: number, requests: number): number {
  return (ms * 1_000) / requests;
}

function profileMarkdown(profiled: Profiled[]): string {
  const out: string[] = ['## Where the time goes (node --cpu-prof, load window only)', ''];
  out.push(
    'CPU of the app process per request served, in µs. The app process is the bottleneck (Redis idles), so µs per ' +
      'request is what sets requests per second. "self" rows: time in each layer\'s own functions. "attributed" rows: ' +
      "time under a session layer's functions including the Node/V8 work they call (crypto, JSON, sockets), without " +
      'the rest of the request that runs inside `next()` or under the `res.end` wrappers.',
    '',
  );
  const perReq = (p: Profiled, ms: number) => perRequest(ms, p.requests).toFixed(1);
  for (const scenario of PROFILED_SCENARIOS) {
    const rows = profiled.filter((p) => p.scenario === scenario);
    const self = (p: Profiled, c: string) => p.summary.categories.find((x) => x.category === c)?.self ?? 0;
    const attributed = (p: Profiled, c: string) => p.summary.layers.find((x) => x.category === c)?.attributed ?? 0;
    const categories = [...new Set(rows.flatMap((p) => p.summary.categories.map((c) => c.category)))]
      .filter((c) => c !== 'idle')
      .sort((a, b) => Math.max(...rows.map((p) => self(p, b))) - Math.max(...rows.map((p) => self(p, a))));
    out.push(`### ${scenario}`, '', `| µs per request | ${rows.map((p) => p.mode).join(' | ')} |`, `|---|${rows.map(() => '---:').join('|')}|`);
    out.push(`| **busy CPU, all** | ${rows.map((p) => `**${perReq(p, p.summary.busyMs)}**`).join(' | ')} |`);
    for (const c of categories) out.push(`| self: ${c} | ${rows.map((p) => perReq(p, self(p, c))).join(' | ')} |`);
    for (const c of SESSION_LAYERS) {
      if (rows.some((p) => attributed(p, c) * 1_000 > p.requests * 0.05)) {
        out.push(`| attributed: ${c} | ${rows.map((p) => perReq(p, attributed(p, c))).join(' | ')} |`);
      }
    }
    out.push(`| req/s while profiled | ${rows.map((p) => p.rps.toFixed(0)).join(' | ')} |`, '');
    const ours = rows.find((p) => p.mode === 'ours');
    if (!ours) continue;
    out.push(
      `Session-layer functions of \`ours\` by attributed time (${scenario}; profile \`${relative(ROOT, ours.file)}\`):`,
      '',
      '| attributed µs/req | self µs/req | function | where | layer |',
      '|---:|---:|---|---|---|',
      ...topAttributedRows(ours.summary, ours.requests, 20),
      '',
      `Top self time in \`ours\` (${scenario}), all layers:`,
      '',
      '| self ms | µs/req | function | where | layer |',
      '|---:|---:|---|---|---|',
      ...topSelfRows(ours.summary, ours.requests, 15),
      '',
    );
  }
  return out.join('\n');
}
