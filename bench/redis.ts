import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { freePort } = require('../scripts/demo/ports') as { freePort(host?: string): Promise<number> };

/** A redis-server the bench started for itself, on a free port of 127.0.0.1, without persistence. */
export interface BenchRedis {
  url: string;
  port: number;
  pid: number;
  /** Extra redis-server arguments of this run (BENCH_REDIS_ARGS), if any. */
  extraArgs: string[];
  /** Client for the bench's own bookkeeping (INFO, FLUSHALL, fills); never used by an app. */
  admin: Redis;
  version: string;
  stop(): Promise<void>;
}

const REDIS_BINARY = process.env.BENCH_REDIS_SERVER ?? '/usr/bin/redis-server';
/** Extra redis-server arguments for experiments, e.g. BENCH_REDIS_ARGS="--hash-max-listpack-value 512". */
const EXTRA_ARGS = (process.env.BENCH_REDIS_ARGS ?? '').split(/\s+/).filter(Boolean);
const START_TIMEOUT_MS = 5_000;

export async function startRedis(): Promise<BenchRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'session-bench-redis-'));
  const port = await freePort();
  const child = spawn(
    REDIS_BINARY,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--daemonize',
      'no',
      '--loglevel',
      'warning',
      ...EXTRA_ARGS,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  const url = `redis://127.0.0.1:${port}`;
  const admin = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  admin.on('error', () => undefined); // refused while redis-server starts; later failures reject the command
  let stopped = false;
  // Last resort if the bench dies without reaching stop(): never leave a redis-server behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.off('exit', killOnExit);
    admin.disconnect();
    await killAndWait(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPing(admin, child, () => stderr);
    const version = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1] ?? 'unknown';
    return { url, port, pid: child.pid!, extraArgs: EXTRA_ARGS, admin, version, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** INFO commandstats as { command: calls }; subcommands keep their "config|get" names. */
export async function commandCalls(admin: Redis): Promise<Record<string, number>> {
  const calls: Record<string, number> = {};
  for (const match of (await admin.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    calls[match[1]] = Number(match[2]);
  }
  return calls;
}

/** INFO commandstats as { command: { calls, usec } }: usec is the time Redis spent executing it. */
export async function commandStats(admin: Redis): Promise<Record<string, { calls: number; usec: number }>> {
  const stats: Record<string, { calls: number; usec: number }> = {};
  for (const match of (await admin.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    stats[match[1]] = { calls: Number(match[2]), usec: Number(match[3]) };
  }
  return stats;
}

/** Commands the bench itself sends; left out of per-request figures. */
export const HARNESS_COMMANDS = /^(info|config|client|ping|hello|select|command|memory|dbsize|flushall|flushdb|script|debug|slowlog)(\||$)/;

/** Calls per command between two snapshots, without the bench's own commands. */
export function callsBetween(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const [name, calls] of Object.entries(after)) {
    const d = calls - (before[name] ?? 0);
    if (d > 0 && !HARNESS_COMMANDS.test(name)) delta[name] = d;
  }
  return delta;
}

export async function usedMemory(admin: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1]);
}

async function waitForPing(admin: Redis, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}): ${stderr().trim()}`);
    try {
      if (admin.status === 'wait' || admin.status === 'end') await admin.connect();
      if ((await admin.ping()) === 'PONG') return;
    } catch {
      admin.disconnect();
    }
    if (Date.now() > deadline) throw new Error(`redis-server did not answer PING within ${START_TIMEOUT_MS} ms: ${stderr().trim()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 3_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
