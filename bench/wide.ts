import type { Mode } from './apps/mode';
import { BenchChild } from './children';
import { mapLimit, send } from './http';
import type { LoadJob } from './load';
import type { BenchOptions } from './options';
import { runPaired } from './paired';
import type { BenchRedis } from './redis';
import type { PairedResult } from './results';
import { startApp, type RunningApp } from './throughput';

type Log = (line: string) => void;

/** The modes whose wide sessions the section measures: ours, the floor, and connect-redis (which saves the whole session). */
export const WIDE_MODES: Mode[] = ['ours', 'floor', 'connect-redis'];
/** Top-level keys of a wide session: the user, the cart and 48 preferences `k0`…`k47`. */
export const WIDE_KEYS = 50;
const PREFS = WIDE_KEYS - 2;

/** A preference as the seeding writes it: a small object, as an app's settings are. */
export const prefValue = (k: number) => ({ label: `preference number ${k}`, on: k % 2 === 0, n: k });

/**
 * `--only=wide`: one app per mode, half its sessions narrow (the user, the cart and one preference
 * `k0`: 3 top-level keys) and half wide (the user, the cart and 48 preferences: 50 keys). Each
 * request changes one preference through the end-of-request save (`POST /prefs/k…`): in a narrow
 * session always `k0`, in a wide one each of the 48 in turn. The load alternates between the narrow
 * and the wide sessions of the same process in slices (as the paired section does), so the ratio
 * wide ÷ narrow is free of the machine's drift: 1 when a change costs the same whatever the width.
 */
export async function measureWide(options: BenchOptions, redis: BenchRedis, log: Log): Promise<PairedResult[]> {
  const loader = BenchChild.start('bench/load.ts', {});
  await loader.next('ready');
  const results: PairedResult[] = [];
  try {
    for (const mode of WIDE_MODES) {
      const app = await startApp(mode, options, redis);
      try {
        const half = Math.floor(app.cookies.length / 2);
        const narrow = app.cookies.slice(0, half);
        const wide = app.cookies.slice(half);
        await seed(app, narrow, 1);
        await seed(app, wide, PREFS);
        const target = (name: string, cookies: string[], keys: number) => ({
          name,
          pid: app.child.process.pid!,
          job: (duration: number): LoadJob => ({
            url: `http://127.0.0.1:${app.port}`,
            method: 'POST',
            cookies,
            pathTemplate: '/prefs/k{key}',
            bodyTemplate: '{"value":{n}}',
            keys,
            connections: options.connections,
            duration,
          }),
        });
        const ownPids = () => [process.pid, redis.pid, loader.process.pid!, app.child.process.pid!];
        const plan = { blocks: options.blocks, sliceSeconds: options.slice, warmup: options.warmup, ownPids };
        results.push(
          await runPaired(`wide ÷ narrow, ${mode}`, [target('narrow', narrow, 1), target('wide', wide, PREFS)], [['wide', 'narrow']], plan, loader, log),
        );
      } finally {
        await app.child.stop();
      }
    }
  } finally {
    await loader.stop();
  }
  return results;
}

/** Gives each session the preferences `k0`…`k(count − 1)`, through the app. */
async function seed(app: RunningApp, cookies: string[], count: number): Promise<void> {
  const work = cookies.flatMap((cookie) => Array.from({ length: count }, (_, k) => ({ cookie, k })));
  await mapLimit(work, 16, async ({ cookie, k }) => {
    const reply = await send(app.port, 'POST', `/prefs/k${k}`, cookie, { value: prefValue(k) });
    if (reply.status !== 200) throw new Error(`${app.mode}: POST /prefs/k${k} answered ${reply.status}: ${reply.body.slice(0, 200)}`);
  });
}
