import { readFileSync } from 'node:fs';

/** The parts of a V8 .cpuprofile (as `node --cpu-prof` writes it) that the summary reads. */
interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }>;
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionTime {
  name: string;
  where: string;
  category: string;
  /** Milliseconds. */
  self: number;
  /** Milliseconds with callees, each sample counted once per function however deep the recursion. */
  total: number;
  /**
   * Milliseconds of samples whose nearest session-layer frame is this function, with no app frame
   * (Express, Nest, the controllers) in between: its own time plus the Node and V8 work it called,
   * without the rest of the request that a middleware's `next()` runs inside it.
   */
  attributed: number;
}

export interface ProfileSummary {
  /** Milliseconds of the window summarised. */
  windowMs: number;
  /** Milliseconds on CPU (all samples but idle). */
  busyMs: number;
  categories: Array<{ category: string; self: number }>;
  /** Milliseconds attributed to each session layer (see `FunctionTime.attributed`). */
  layers: Array<{ category: string; attributed: number }>;
  functions: FunctionTime[];
}

/** Layers whose cost is attributed with the Node and V8 work they call. */
export const SESSION_LAYERS = ['ours: libs/session', 'express-session', 'connect-redis', 'ioredis'];
/** Frames that belong to the app: walking up past one means the work was the rest of the request. */
const APP_LAYERS = ['express & http deps', 'nest', 'bench app (controllers, cart)'];
/**
 * Session-layer wrappers of `res.end`/`res.writeHead` and the callbacks that finish the response:
 * under them runs the response write every mode does, so they own their own samples only, and the
 * walk up from a sample stops at them as it does at an app frame.
 */
const PASS_THROUGH = [
  'end express-session/index.js',
  'writeend express-session/index.js',
  'writetop express-session/index.js',
  'ontouch express-session/index.js',
  'onsave express-session/index.js',
  'writeHead on-headers/index.js',
];

/** Which package or layer a script belongs to, from its URL. */
export function categoryOf(url: string, name: string): string {
  if (!url) {
    if (name === '(garbage collector)') return 'GC';
    if (name === '(idle)') return 'idle';
    if (name === '(program)') return 'V8/native (program)';
    return 'V8/native builtins';
  }
  if (url.includes('/libs/session/')) return 'ours: libs/session';
  if (url.includes('/bench/')) return 'bench app (controllers, cart)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg) {
    if (pkg.startsWith('@nestjs/')) return 'nest';
    if (['ioredis', 'redis-parser', 'redis-errors', 'denque', 'cluster-key-slot', 'standard-as-callback'].includes(pkg)) return 'ioredis';
    if (['express-session', 'connect-redis', 'uid-safe', 'random-bytes', 'cookie-signature', 'on-headers'].includes(pkg))
      return pkg === 'connect-redis' ? 'connect-redis' : 'express-session';
    if (pkg === 'cookie') return 'express-session';
    if (['rxjs', 'reflect-metadata', 'tslib', 'iterare'].includes(pkg)) return 'nest';
    return 'express & http deps';
  }
  if (url.startsWith('node:')) return 'node core';
  return 'other';
}

function shortUrl(url: string): string {
  return url
    .replace(/^file:\/\//, '')
    .replace(/^.*?\/node_modules\//, '')
    .replace(/^.*?\/(libs|bench)\//, '$1/');
}

/**
 * Self and total time per function, and self time per category, over the samples between `from` and
 * `to` (microseconds on the profile's clock, which is process.hrtime's).
 */
export function summariseProfile(profile: CpuProfile, from = -Infinity, to = Infinity): ProfileSummary {
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const keyOf = new Map<number, string>();
  const passThrough = new Set<number>();
  const functions = new Map<string, FunctionTime>();
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName || '(anonymous)';
    const where = url ? `${shortUrl(url)}:${lineNumber + 1}` : '';
    const key = `${name} ${where}`;
    keyOf.set(node.id, key);
    if (PASS_THROUGH.some((p) => key.startsWith(p.split(' ')[0] + ' ') && where.startsWith(p.split(' ')[1]))) passThrough.add(node.id);
    if (!functions.has(key)) functions.set(key, { name, where, category: categoryOf(url, name), self: 0, total: 0, attributed: 0 });
  }
  const categories = new Map<string, number>();
  const layers = new Map<string, number>();
  let t = profile.startTime;
  let first = Infinity;
  let last = -Infinity;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i];
    if (t < from || t > to) continue;
    first = Math.min(first, t);
    last = Math.max(last, t);
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1_000; // a sample stands for the time until the next one
    const leaf = functions.get(keyOf.get(profile.samples[i])!)!;
    leaf.self += ms;
    categories.set(leaf.category, (categories.get(leaf.category) ?? 0) + ms);
    const seen = new Set<string>();
    let owner: FunctionTime | undefined;
    let blocked = false;
    for (let id: number | undefined = profile.samples[i]; id !== undefined; id = parent.get(id)) {
      const key = keyOf.get(id)!;
      const fn = functions.get(key)!;
      if (!owner && !blocked) {
        if (passThrough.has(id)) {
          if (id === profile.samples[i]) owner = fn;
          else blocked = true; // the response write under a wrapper, not session work
        } else if (SESSION_LAYERS.includes(fn.category)) owner = fn;
        else if (APP_LAYERS.includes(fn.category)) blocked = true;
      }
      if (seen.has(key)) continue;
      seen.add(key);
      fn.total += ms;
    }
    if (owner) {
      owner.attributed += ms;
      layers.set(owner.category, (layers.get(owner.category) ?? 0) + ms);
    }
  }
  const busyMs = [...categories].filter(([c]) => c !== 'idle').reduce((sum, [, ms]) => sum + ms, 0);
  return {
    windowMs: last > first ? (last - first) / 1_000 : 0,
    busyMs,
    categories: [...categories].map(([category, self]) => ({ category, self })).sort((a, b) => b.self - a.self),
    layers: [...layers].map(([category, attributed]) => ({ category, attributed })).sort((a, b) => b.attributed - a.attributed),
    functions: [...functions.values()].filter((f) => f.self > 0 || f.total > 0),
  };
}

export function readProfile(path: string): CpuProfile {
  return JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
}

/** Top functions by self time, as Markdown rows, with microseconds per request served. */
export function topSelfRows(summary: ProfileSummary, requests: number, limit: number): string[] {
  return summary.functions
    .filter((f) => f.category !== 'idle')
    .sort((a, b) => b.self - a.self)
    .slice(0, limit)
    .map((f) => `| ${f.self.toFixed(0)} | ${((f.self * 1_000) / requests).toFixed(1)} | \`${f.name}\` | ${f.where || '(native)'} | ${f.category} |`);
}

/** Session-layer functions by attributed time (own time plus the Node/V8 work they call), as Markdown rows. */
export function topAttributedRows(summary: ProfileSummary, requests: number, limit: number): string[] {
  return summary.functions
    .filter((f) => f.attributed > 0)
    .sort((a, b) => b.attributed - a.attributed)
    .slice(0, limit)
    .map(
      (f) => `| ${((f.attributed * 1_000) / requests).toFixed(1)} | ${((f.self * 1_000) / requests).toFixed(1)} | \`${f.name}\` | ${f.where} | ${f.category} |`,
    );
}

// `node -r ts-node/register/transpile-only bench/profile-summary.ts some.cpuprofile`: the top of one profile.
if (require.main === module) {
  const summary = summariseProfile(readProfile(process.argv[2]));
  console.log(`busy ${summary.busyMs.toFixed(0)} ms of ${summary.windowMs.toFixed(0)} ms`);
  for (const c of summary.categories) console.log(`${c.self.toFixed(0).padStart(7)} ms  ${c.category}`);
  for (const l of summary.layers) console.log(`${l.attributed.toFixed(0).padStart(7)} ms  ${l.category} (attributed)`);
  console.log(topSelfRows(summary, 1, 30).join('\n'));
  console.log(topAttributedRows(summary, 1, 30).join('\n'));
}
