import { setTimeout as delay } from 'node:timers/promises';
import { probeStaleness, type StalenessReport, type StalenessTrial } from '../test/support/staleness-probe';
import { BenchChild } from './children';
import { send } from './http';
import type { BenchOptions } from './options';
import type { BenchRedis } from './redis';
import type { StalenessResult } from './results';
import { startApp } from './throughput';

type Log = (line: string) => void;

/** Time the first heartbeat needs to come back, after which both replicas' caches serve. */
const ARMING_MS = 1_500;

/**
 * Issue 10: how long a replica can serve the old state of a session another replica changed or
 * deleted. Two `ours-near-cache` apps share one Redis; A changes a key (or logs the session out) while
 * B, whose cache holds the session, reads it in a tight loop. See `probeStaleness`.
 */
export async function measureStaleness(options: BenchOptions, redis: BenchRedis, log: Log): Promise<StalenessResult[]> {
  const a = await startApp('ours-near-cache', { sessions: 0 }, redis);
  const b = BenchChild.start('bench/apps/server.ts', { BENCH_MODE: 'ours-near-cache', BENCH_REDIS_URL: redis.url });
  try {
    const { port: bPort } = await b.next<{ port: number }>('ready');
    await delay(ARMING_MS);
    const readOnB = async (cookie: string) => {
      const reply = await send(bPort, 'GET', '/prefs/k1', cookie);
      if (reply.status !== 200) throw new Error(`replica B answered ${reply.status}: ${reply.body.slice(0, 200)}`);
      return (JSON.parse(reply.body) as { value: unknown }).value;
    };
    const warm = async (cookie: string) => {
      for (let i = 0; i < 2; i++) await readOnB(cookie);
    };
    const results: StalenessResult[] = [];

    const cookie = await login(a.port, 'staleness-change');
    const changes = await probeStaleness(options.stalenessTrials, async (trial): Promise<StalenessTrial> => {
      await warm(cookie);
      const value = `v${trial}`;
      return {
        change: async () => void expectStatus(await send(a.port, 'POST', '/prefs/k1', cookie, { value }), 200),
        showsChange: async () => (await readOnB(cookie)) === value,
      };
    });
    results.push(report('change', changes, log));

    const deletes = await probeStaleness(options.stalenessTrials, async (trial): Promise<StalenessTrial> => {
      const session = await login(a.port, `staleness-delete-${trial}`);
      await warm(session);
      return {
        change: async () => void expectStatus(await send(a.port, 'POST', '/logout', session), 204),
        showsChange: async () => (await readOnB(session)) === null,
      };
    });
    results.push(report('logout', deletes, log));
    return results;
  } finally {
    await a.child.stop();
    await b.stop();
  }
}

/** Logs a user in through replica A and sets the key B reads; returns the cookie. */
async function login(port: number, userId: string): Promise<string> {
  const reply = expectStatus(await send(port, 'POST', '/login', undefined, { userId }), 200);
  const cookie = reply.setCookie.map((c) => c.split(';')[0]).find((c) => c.startsWith('sid='));
  if (!cookie) throw new Error('POST /login set no "sid" cookie');
  expectStatus(await send(port, 'POST', '/prefs/k1', cookie, { value: 'first' }), 200);
  return cookie;
}

function expectStatus<T extends { status: number; body: string }>(reply: T, status: number): T {
  if (reply.status !== status) throw new Error(`replica A answered ${reply.status}: ${reply.body.slice(0, 200)}`);
  return reply;
}

function report(kind: StalenessResult['kind'], probe: StalenessReport, log: Log): StalenessResult {
  const ms = (n: number) => `${n.toFixed(2)} ms`;
  const { windowAfterAnswer: w, visibleAfter: v } = probe;
  log(
    `  ${kind.padEnd(7)} ${probe.trials} trials: ${probe.staleReadsAfterAnswer} stale reads after A answered;` +
      ` window after the answer p50 ${ms(w.p50)} p99 ${ms(w.p99)} max ${ms(w.max)};` +
      ` visible on B after p50 ${ms(v.p50)} p99 ${ms(v.p99)} max ${ms(v.max)} (${probe.reads} reads)`,
  );
  return { kind, ...probe };
}
