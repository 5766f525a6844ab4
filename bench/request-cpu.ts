import 'reflect-metadata';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Session as InspectorSession } from 'node:inspector';
import { connect, createServer } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { inject, type DispatchFunc, type InjectOptions } from 'light-my-request';
import { ADDED_LINE, SEED_LINES } from './apps/cart';
import { WIDE_KEYS, prefValue } from './wide';
import { buildFloorApp } from './apps/floor.app';
import { BENCH_ENCRYPTION_KEY, type BuiltApp, type Platform } from './apps/mode';
import { buildNoneApp } from './apps/none.app';
import { buildOursApp } from './apps/ours.app';
import { buildBaseApp } from './request-cpu-base';
import { median, percentile } from './stats';

/*
 * App CPU per request, in one process, with no HTTP socket and no load generator: each mode's Nest
 * app answers in-process requests (light-my-request, what `fastify.inject` uses; on Express the same
 * library over the app's handler), the modes take turns in short slices, and each slice's CPU
 * (`process.cpuUsage`) per request is compared with its neighbours'. Redis runs in its own process,
 * so its CPU is not counted. The request path is everything `npm run bench` measures except the
 * HTTP parser and the socket, which are the same for every mode.
 *
 * Why: on this shared machine, modes measured one after another drift apart by more than the
 * differences worth finding. Slices of 200 requests alternating between two copies of the same code
 * agree within about 1 µs per request (the median of 150 slice differences), where `npm run bench`
 * needs a quiet machine for 5 %. What it measures is a change, not what a user's server serves: for
 * that, `npm run bench`. Compare two copies of the library (`BASE_LIBRARY`) rather than different
 * modes: apps in one process share Express's, Fastify's and Node's code and its inline caches, which
 * then see every app's objects, and that is not neutral between apps of different shapes (an Express
 * app whose response prototype has its own `end`, as ours does, measured 15 to 30 µs slower per
 * request beside a ceiling app than with that property removed, each in the same process).
 *
 *   npm run bench:cpu                       # Fastify: none, ours, floor (read and write)
 *   PLATFORM=express npm run bench:cpu
 *   BASE_LIBRARY=/path/to/checkout MODES=ours,base npm run bench:cpu -- 150 200
 *                                           # ours against libs/session/src of another checkout
 *   ALLOCATIONS=/tmp/ours MODES=ours npm run bench:cpu   # also every allocation, as .heapprofile files
 *   CPU_PROFILE=/tmp/ours MODES=ours npm run bench:cpu   # and a CPU profile of the slices (.cpuprofile)
 *
 * ENCRYPTION=1 turns the `encryption` option on in `ours` and `base` (the bench's key, as `ours-encrypted`);
 * the mode `encrypted` is `ours` with it on, beside `ours` without (MODES=ours,encrypted).
 *
 * The mode `floor-metadata` is the floor keeping the five metadata fields ours keeps per logged-in
 * session (creation, expiry, last seen, User-Agent, IP; `metadataFields` in apps/floor.app.ts), read
 * with every HGETALL and otherwise left alone: `floor-metadata − floor` is what reading them costs,
 * `ours − floor-metadata` the rest of ours' distance to the floor (MODES=ours,floor,floor-metadata).
 *
 * Arguments: slices (default 150), requests per slice (default 200). SCENARIOS=read,write,visitor,width
 * picks among the scenarios (default read,write; `visitor` sends no cookie; `width` changes one
 * preference per request in narrow sessions (3 keys) and wide ones (50 keys), alternating the two in
 * each mode's slices, so a mode's wide ÷ narrow is free of the machine's drift: 1 when a change costs
 * the same whatever the session's width; `narrow` or `wide` alone run as the other scenarios do, e.g. to
 * profile one width).
 */

/**
 * `visitor`: `GET /cart` without a cookie, which must cost a session layer next to nothing. `narrow`
 * and `wide`: `POST /prefs/k…` in a session of 3 or of 50 top-level keys (the `width` scenario).
 */
type Scenario = 'read' | 'write' | 'visitor' | 'narrow' | 'wide';
type Chosen = Scenario | 'width';
/** Requests in flight per mode, each on a session of its own (the floor does not retry a conflict). */
const IN_FLIGHT = 20;

interface Target {
  name: string;
  built: BuiltApp;
  send: (options: InjectOptions) => Promise<{ statusCode: number; body: string; headers: Record<string, unknown> }>;
  cookies: string[];
  /** Sessions of the `width` scenario: the user, the cart and 1 preference, or 48 (seeded when asked for). */
  narrowCookies: string[];
  wideCookies: string[];
}

/** Top-level keys of a wide session, as in `npm run bench -- --only=wide`: the user, the cart and 48 preferences. */
const WIDE_PREFS = WIDE_KEYS - 2;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function startRedis(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  for (let attempt = 0; attempt < 100; attempt++) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.on('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (up) return { url: `redis://127.0.0.1:${port}`, child };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill();
  throw new Error('redis-server did not start');
}

async function target(name: string, built: BuiltApp, platform: Platform, width: boolean): Promise<Target> {
  await built.app.init();
  let send: Target['send'];
  if (platform === 'fastify') {
    const fastify = built.app.getHttpAdapter().getInstance() as FastifyInstance;
    await fastify.ready();
    send = (options) => fastify.inject(options);
  } else {
    const handler = built.app.getHttpAdapter().getInstance() as DispatchFunc;
    send = (options) => inject(handler, options);
  }
  const cookies: string[] = [];
  for (let i = 0; i < IN_FLIGHT; i++) {
    if (name === 'none') {
      cookies.push('sid=none'); // the ceiling answers the seeded cart to a request with a cookie
      continue;
    }
    const login = await send({ method: 'POST', url: '/login', payload: { userId: `u-${name}-${i}` } });
    const setCookie = login.headers['set-cookie'];
    const cookie = String(Array.isArray(setCookie) ? setCookie[0] : setCookie).split(';')[0];
    for (const line of SEED_LINES) {
      const reply = await send({ method: 'POST', url: '/cart/items', payload: line, headers: { cookie } });
      if (reply.statusCode !== 200) throw new Error(`${name}: seeding answered ${reply.statusCode} ${reply.body}`);
    }
    cookies.push(cookie);
  }
  const narrowCookies: string[] = [];
  const wideCookies: string[] = [];
  if (width) {
    for (const [list, prefs] of [
      [narrowCookies, 1],
      [wideCookies, WIDE_PREFS],
    ] as const) {
      for (let i = 0; i < IN_FLIGHT; i++) {
        const cookie = name === 'none' ? 'sid=none' : await seededSession(send, `u-${name}-w${prefs}-${i}`);
        for (let k = 0; k < prefs && name !== 'none'; k++) {
          const reply = await send({ method: 'POST', url: `/prefs/k${k}`, payload: { value: prefValue(k) }, headers: { cookie } });
          if (reply.statusCode !== 200) throw new Error(`${name}: seeding k${k} answered ${reply.statusCode} ${reply.body}`);
        }
        list.push(cookie);
      }
    }
  }
  return { name, built, send, cookies, narrowCookies, wideCookies };
}

/** A logged-in session with the seeded cart: its cookie. */
async function seededSession(send: Target['send'], userId: string): Promise<string> {
  const login = await send({ method: 'POST', url: '/login', payload: { userId } });
  const setCookie = login.headers['set-cookie'];
  const cookie = String(Array.isArray(setCookie) ? setCookie[0] : setCookie).split(';')[0];
  for (const line of SEED_LINES) {
    const reply = await send({ method: 'POST', url: '/cart/items', payload: line, headers: { cookie } });
    if (reply.statusCode !== 200) throw new Error(`seeding answered ${reply.statusCode} ${reply.body}`);
  }
  return cookie;
}

/** CPU µs per request of `requests` requests, IN_FLIGHT at a time. */
async function slice(t: Target, scenario: Scenario, requests: number): Promise<number> {
  const start = process.cpuUsage();
  let next = 0;
  const worker = async (cookie: string) => {
    let request: InjectOptions =
      scenario === 'read'
        ? { method: 'GET', url: '/cart', headers: { cookie } }
        : scenario === 'visitor'
          ? { method: 'GET', url: '/cart' }
          : { method: 'POST', url: '/cart/items', payload: ADDED_LINE, headers: { cookie } };
    while (next < requests) {
      const n = next++;
      if (scenario === 'narrow' || scenario === 'wide') {
        // A narrow session changes its one preference; a wide one each of its 48 in turn.
        const k = scenario === 'wide' ? n % WIDE_PREFS : 0;
        request = { method: 'POST', url: `/prefs/k${k}`, payload: { value: prefValue(k + n) }, headers: { cookie } };
      }
      const reply = await t.send(request);
      if (reply.statusCode !== 200) throw new Error(`${t.name} ${scenario}: ${reply.statusCode} ${reply.body}`);
    }
  };
  const cookies = scenario === 'narrow' ? t.narrowCookies : scenario === 'wide' ? t.wideCookies : t.cookies;
  await Promise.all(cookies.map(worker));
  const used = process.cpuUsage(start);
  return (used.user + used.system) / requests;
}

/**
 * Samples every allocation from now on, collected or not (what the GC rows of a CPU profile pay
 * for); answers a function that writes the profile (Chrome DevTools opens it) and stops sampling.
 */
async function sampleAllocations(): Promise<(file: string) => Promise<void>> {
  const session = new InspectorSession();
  session.connect();
  const post = <T>(method: string, params: object = {}) =>
    new Promise<T>((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result as T))));
  await post('HeapProfiler.startSampling', { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  return async (file) => {
    const { profile } = await post<{ profile: unknown }>('HeapProfiler.stopSampling');
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
  };
}

/** A CPU profile of the slices alone (no start-up, no warm-up), for `profile-summary.ts` or Chrome DevTools. */
async function profileCpu(): Promise<(file: string) => Promise<void>> {
  const session = new InspectorSession();
  session.connect();
  const post = <T>(method: string, params: object = {}) =>
    new Promise<T>((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result as T))));
  await post('Profiler.enable');
  await post('Profiler.start');
  return async (file) => {
    const { profile } = await post<{ profile: unknown }>('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
  };
}

const range = (values: number[]) => `${Math.min(...values).toFixed(1)}–${Math.max(...values).toFixed(1)}`;

function report(scenario: Scenario, per: Map<string, number[]>, slices: number, requests: number): void {
  console.log(`\n${scenario}: ${slices} slices × ${requests} requests per mode, ${IN_FLIGHT} in flight; CPU µs per request, median (min–max)`);
  for (const [name, values] of per)
    console.log(`  ${name.padEnd(14)} ${median(values).toFixed(1).padStart(7)}   (${range(values)}); p5 ${percentile(values, 5).toFixed(1)}`);
  const pairs: Array<[string, string]> = [
    ['ours', 'none'],
    ['floor', 'none'],
    ['ours', 'floor'],
    ['floor-metadata', 'floor'],
    ['ours', 'floor-metadata'],
    ['ours', 'base'],
    ['encrypted', 'ours'],
  ];
  for (const [a, b] of pairs) {
    const left = per.get(a);
    const right = per.get(b);
    if (!left || !right) continue;
    const differences = left.map((us, i) => us - right[i]);
    const p5 = percentile(left, 5) - percentile(right, 5);
    const least = Math.min(...left) - Math.min(...right);
    console.log(
      `  ${a} − ${b}: slice by slice, median ${median(differences).toFixed(1)} µs (${range(differences)}); of the p5s ${p5.toFixed(1)} µs, of the minimums ${least.toFixed(1)} µs; ${a} ÷ ${b} ${median(left.map((us, i) => us / right[i])).toFixed(3)}`,
    );
  }
}

/** Narrow and wide slices of every mode, alternated (each mode and width first as often as last). */
async function measureWidth(targets: Target[], slices: number, requests: number): Promise<void> {
  for (const t of targets) {
    await slice(t, 'narrow', requests); // warm-up
    await slice(t, 'wide', requests);
  }
  const narrow = new Map(targets.map((t) => [t.name, [] as number[]]));
  const wide = new Map(targets.map((t) => [t.name, [] as number[]]));
  for (let s = 0; s < slices; s++) {
    const order = s % 2 ? [...targets].reverse() : targets;
    for (const t of order) {
      const widths: Array<'narrow' | 'wide'> = s % 2 ? ['wide', 'narrow'] : ['narrow', 'wide'];
      for (const width of widths) (width === 'narrow' ? narrow : wide).get(t.name)!.push(await slice(t, width, requests));
    }
  }
  reportWidth(narrow, wide, slices, requests);
}

/** `width`: each mode's narrow and wide slices side by side, and wide ÷ narrow as req/s would show it. */
function reportWidth(narrow: Map<string, number[]>, wide: Map<string, number[]>, slices: number, requests: number): void {
  console.log(`\nwidth: ${slices} slices × ${requests} requests per mode and width, ${IN_FLIGHT} in flight; CPU µs per request, median (min–max)`);
  for (const [name, narrowUs] of narrow) {
    const wideUs = wide.get(name)!;
    const ratios = narrowUs.map((us, i) => us / wideUs[i]);
    console.log(
      `  ${name.padEnd(6)} narrow ${median(narrowUs).toFixed(1)} (${range(narrowUs)}), wide ${median(wideUs).toFixed(1)} (${range(wideUs)}); wide − narrow ${median(wideUs.map((us, i) => us - narrowUs[i])).toFixed(1)} µs; wide ÷ narrow by CPU, as req/s: ${median(ratios).toFixed(3)} (p25 ${percentile(ratios, 25).toFixed(3)}, p75 ${percentile(ratios, 75).toFixed(3)})`,
    );
  }
  const ours = wide.get('ours');
  const base = wide.get('base');
  if (ours && base) {
    const differences = ours.map((us, i) => us - base[i]);
    console.log(`  wide: ours − base, slice by slice, median ${median(differences).toFixed(1)} µs (${range(differences)})`);
  }
}

async function main(): Promise<void> {
  const slices = Number(process.argv[2] ?? 150);
  const requests = Number(process.argv[3] ?? 200);
  const platform = (process.env.PLATFORM ?? 'fastify') as Platform;
  const scenarios = (process.env.SCENARIOS ?? 'read,write').split(',') as Chosen[];
  const encrypted = process.env.ENCRYPTION === '1';
  const redis = await startRedis();
  try {
    const builders: Record<string, () => Promise<BuiltApp>> = {
      none: () => buildNoneApp(platform),
      ours: () => buildOursApp(redis.url, encrypted ? { encryption: { keys: [BENCH_ENCRYPTION_KEY] } } : {}, platform),
      encrypted: () => buildOursApp(redis.url, { encryption: { keys: [BENCH_ENCRYPTION_KEY] } }, platform),
      floor: () => buildFloorApp(redis.url, false, platform),
      'floor-metadata': () => buildFloorApp(redis.url, false, platform, true),
      base: () => buildBaseApp(redis.url, platform, encrypted ? { encryption: { keys: [BENCH_ENCRYPTION_KEY] } } : {}),
    };
    const names = (process.env.MODES ?? (process.env.BASE_LIBRARY ? 'ours,base' : 'none,ours,floor')).split(',');
    const targets: Target[] = [];
    for (const name of names) {
      if (!builders[name]) throw new Error(`MODES names "${name}": give some of ${Object.keys(builders).join(', ')}`);
      targets.push(
        await target(
          name,
          await builders[name](),
          platform,
          scenarios.some((s) => s === 'width' || s === 'narrow' || s === 'wide'),
        ),
      );
    }
    console.log(`${platform}, modes ${names.join(', ')}`);
    for (const scenario of scenarios) {
      if (scenario === 'width') {
        await measureWidth(targets, slices, requests);
        continue;
      }
      for (const t of targets) await slice(t, scenario, requests); // warm-up
      const allocations = process.env.ALLOCATIONS ? await sampleAllocations() : undefined;
      const cpuProfile = process.env.CPU_PROFILE ? await profileCpu() : undefined;
      const per = new Map(targets.map((t) => [t.name, [] as number[]]));
      for (let s = 0; s < slices; s++) {
        const order = s % 2 ? [...targets].reverse() : targets; // each mode first as often as last
        for (const t of order) per.get(t.name)!.push(await slice(t, scenario, requests));
      }
      if (allocations) await allocations(`${process.env.ALLOCATIONS}.${scenario}.heapprofile`);
      if (cpuProfile) await cpuProfile(`${process.env.CPU_PROFILE}.${scenario}.cpuprofile`);
      report(scenario, per, slices, requests);
    }
    for (const t of targets) {
      await t.built.app.close();
      t.built.redis?.disconnect();
    }
  } finally {
    redis.child.kill();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
