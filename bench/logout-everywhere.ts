import { randomBytes } from 'node:crypto';
import { NestFactory } from '@nestjs/core';
import { RedisStore } from 'connect-redis';
import { Redis } from 'ioredis';
import { SessionService } from '@app/session';
import { connectRedisStoreOptions } from './apps/connect-redis.app';
import { IDLE_TIMEOUT_S } from './apps/mode';
import { benchSessionModule } from './apps/ours.app';
import { SESSIONS_PER_USER, cloneOursSessions, fillConnectRedisSessions } from './fill';
import { cartOf, loginWithCart } from './http';
import { typicalSession } from './memory';
import type { BenchOptions } from './options';
import { callsBetween, commandCalls, type BenchRedis } from './redis';
import type { LogoutResult } from './results';
import { median } from './stats';
import { startApp } from './throughput';

type Log = (line: string) => void;

const TARGET = 'target-user';
const TEMPLATE = 'template-user';
const PREFIX = 'sess:';
/** Repetitions per size; a scan of a million keys runs once. */
const repetitionsFor = (stored: number) => (stored >= 1_000_000 ? 1 : 3);

/**
 * Time to log one user (with five sessions) out everywhere among N stored sessions. Ours goes through
 * `SessionService.logoutEverywhere` (the per-user index); connect-redis offers no index, so its users
 * SCAN every key and read each to find the user's sessions, then `destroy` them.
 */
export async function measureLogoutEverywhere(options: BenchOptions, redis: BenchRedis, log: Log): Promise<LogoutResult[]> {
  const results: LogoutResult[] = [];
  for (const stored of options.logoutSizes) {
    results.push(await oursAt(stored, redis));
    log(line(results[results.length - 1]));
    results.push(await connectRedisAt(stored, redis));
    log(line(results[results.length - 1]));
  }
  await redis.admin.flushall();
  return results;
}

function line(r: LogoutResult): string {
  return `  ${r.mode.padEnd(13)} ${String(r.stored).padStart(9)} stored  ${r.median.toFixed(2).padStart(9)} ms  (deleted ${r.deleted}, ${r.commands} Redis commands)`;
}

async function oursAt(stored: number, redis: BenchRedis): Promise<LogoutResult> {
  const app = await startApp('ours', { sessions: 0 }, redis); // flushes Redis
  const context = await NestFactory.createApplicationContext(benchSessionModule(redis.url), { logger: false });
  try {
    const service = context.get(SessionService);
    await loginWithCart(app.port, TEMPLATE);
    const [sessionKey, indexKey] = await Promise.all([firstKey(redis, 'hash'), firstKey(redis, 'zset')]);
    await cloneOursSessions(redis.admin, { sessionKey, indexKey, userId: TEMPLATE, prefix: PREFIX }, stored - SESSIONS_PER_USER - 1);
    await service.logoutEverywhere('nobody'); // first call on this client: connection and code warm
    const times: number[] = [];
    let deleted = 0;
    let commands = 0;
    for (let rep = 0; rep < repetitionsFor(stored); rep++) {
      const cookies: string[] = [];
      for (let i = 0; i < SESSIONS_PER_USER; i++) cookies.push(await loginWithCart(app.port, TARGET));
      // the clones' users, the template user and the target user each have an index
      await expectKeys(redis, stored + Math.ceil((stored - SESSIONS_PER_USER - 1) / SESSIONS_PER_USER) + 2);
      const before = await commandCalls(redis.admin);
      const start = process.hrtime.bigint();
      deleted = await service.logoutEverywhere(TARGET);
      times.push(Number(process.hrtime.bigint() - start) / 1e6);
      commands = sum(callsBetween(before, await commandCalls(redis.admin)));
      for (const cookie of cookies) {
        if ((await cartOf(app.port, cookie)).length > 0) throw new Error('ours: a session survived logoutEverywhere');
      }
    }
    return { mode: 'ours', stored, times, median: median(times), deleted, commands };
  } finally {
    await context.close();
    await app.child.stop();
  }
}

async function connectRedisAt(stored: number, redis: BenchRedis): Promise<LogoutResult> {
  await redis.admin.flushall();
  const client = new Redis(redis.url, { enableAutoPipelining: false });
  try {
    const store = new RedisStore(connectRedisStoreOptions(client));
    await fillConnectRedisSessions(redis.admin, PREFIX, IDLE_TIMEOUT_S, stored - SESSIONS_PER_USER);
    const times: number[] = [];
    let deleted = 0;
    let commands = 0;
    for (let rep = 0; rep < repetitionsFor(stored); rep++) {
      for (let i = 0; i < SESSIONS_PER_USER; i++) await store.set(randomBytes(24).toString('base64url'), typicalSession(TARGET));
      await expectKeys(redis, stored);
      const before = await commandCalls(redis.admin);
      const start = process.hrtime.bigint();
      deleted = await scanAndDestroy(store, TARGET);
      times.push(Number(process.hrtime.bigint() - start) / 1e6);
      commands = sum(callsBetween(before, await commandCalls(redis.admin)));
      if (deleted !== SESSIONS_PER_USER) throw new Error(`connect-redis: found ${deleted} of the user's ${SESSIONS_PER_USER} sessions`);
    }
    return { mode: 'connect-redis', stored, times, median: median(times), deleted, commands };
  } finally {
    client.disconnect();
  }
}

const SCAN_COUNT = 1_000;

/**
 * What a connect-redis user has to write: walk every key with the store's own SCAN iterator, read a
 * batch at a time with MGET, parse each session, destroy the user's. Streaming in batches keeps memory
 * bounded; `store.all()` would read every session into one array first.
 */
async function scanAndDestroy(store: RedisStore, userId: string): Promise<number> {
  const mine: string[] = [];
  let batch: string[] = [];
  const check = async () => {
    const values = await store.client.mget(batch);
    values.forEach((raw, i) => {
      if (raw && (JSON.parse(raw) as { user?: { id?: string } }).user?.id === userId) mine.push(batch[i].slice(store.prefix.length));
    });
    batch = [];
  };
  for await (const key of store.client.scanIterator(`${store.prefix}*`, SCAN_COUNT)) {
    batch.push(key);
    if (batch.length >= SCAN_COUNT) await check();
  }
  if (batch.length) await check();
  await Promise.all(mine.map((sid) => store.destroy(sid)));
  return mine.length;
}

/** The first key of a type; Redis holds just the template user's session and index when this runs. */
async function firstKey(redis: BenchRedis, type: string): Promise<string> {
  const [, keys] = (await redis.admin.call('SCAN', '0', 'MATCH', `${PREFIX}*`, 'TYPE', type, 'COUNT', '100')) as [string, string[]];
  if (!keys[0]) throw new Error(`no ${type} under "${PREFIX}" after the template login`);
  return keys[0];
}

/** Checks the number of keys: the sessions, plus (ours) one index per user. */
async function expectKeys(redis: BenchRedis, keys: number): Promise<void> {
  const found = await redis.admin.dbsize();
  if (found !== keys) throw new Error(`expected ${keys} keys in Redis, found ${found}`);
}

function sum(calls: Record<string, number>): number {
  return Object.values(calls).reduce((a, b) => a + b, 0);
}
