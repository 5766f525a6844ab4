import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { setTimeout as delay } from 'node:timers/promises';
import { NestFactory } from '@nestjs/core';
import { RedisSessionStore } from '@app/session';
import { benchSessionModule } from './apps/ours.app';
import { mapLimit } from './http';
import { typicalSession } from './memory';
import { commandCalls, type BenchRedis } from './redis';
import type { NearCacheMemoryResult } from './results';

type Log = (line: string) => void;

const READS_IN_FLIGHT = 64;
/** Sessions read before measuring. With two batches of `count`, all must fit `nearCache.maxEntries` (10,000). */
const WARM_UP = 500;
/** Past the bench app's `redisDeadline` (1 s) and the deadline timer's granularity. */
const DEADLINES_DRAINED_MS = 1_500;

/**
 * Heap bytes one near-cache entry takes: `count` sessions (the bench's user and 3-line cart) read
 * once through `RedisSessionStore.get` in this process, the heap measured after a full GC before and
 * after, once with `nearCache: true` and once without; an entry's cost is the difference per
 * session. Bytes of a heap do not depend on the machine's load.
 */
export async function measureNearCacheMemory(redis: BenchRedis, count: number, log: Log): Promise<NearCacheMemoryResult> {
  const gc = exposedGc();
  const withCacheBytes = await retainedPerRead(redis, count, true, gc);
  const withoutCacheBytes = await retainedPerRead(redis, count, false, gc);
  const result = { count, withCacheBytes, withoutCacheBytes, perEntryBytes: withCacheBytes - withoutCacheBytes };
  log(
    `  near cache: ${result.perEntryBytes.toFixed(0)} B of heap per cached session ` +
      `(${withCacheBytes.toFixed(0)} B retained per session read with it, ${withoutCacheBytes.toFixed(0)} without; ${count.toLocaleString('en-US')} sessions)`,
  );
  return result;
}

async function retainedPerRead(redis: BenchRedis, count: number, nearCache: boolean, gc: () => void): Promise<number> {
  await redis.admin.flushall();
  const context = await NestFactory.createApplicationContext(benchSessionModule(redis.url, { nearCache }), { logger: false });
  try {
    const store = context.get(RedisSessionStore);
    const ids = Array.from({ length: WARM_UP + 2 * count }, () => randomBytes(24).toString('base64url'));
    await mapLimit(ids, READS_IN_FLIGHT, (sid, i) => store.set(sid, typicalSession(`user-${i}`)));
    if (nearCache) await untilServing(redis, store, ids[0]);
    // A first batch warms every path a read takes (and what it sets up once); then two batches of
    // `count`: the heap's growth over the second is what `count` more sessions read keep, whatever
    // the first reads left behind once.
    const batches = [ids.slice(0, WARM_UP), ids.slice(WARM_UP, WARM_UP + count), ids.slice(WARM_UP + count)];
    const heaps: number[] = [];
    for (const batch of batches) {
      await mapLimit(batch, READS_IN_FLIGHT, (sid) => read(store, sid));
      // Each Redis call's deadline stays queued until it passes (`redisDeadline`, 1 s): wait them out.
      await delay(DEADLINES_DRAINED_MS);
      heaps.push(heapAfterGc(gc));
    }
    if (nearCache) {
      // Every session must now be held: a second pass that sends Redis a read would mean the first did not fill.
      const reads = await hgetallsDuring(redis, () => mapLimit(ids, READS_IN_FLIGHT, (sid) => read(store, sid)));
      if (reads > 0) throw new Error(`near cache: ${reads} of ${ids.length} sessions were read from Redis again: the cache did not hold them`);
    }
    return (heaps[2] - heaps[1]) / count;
  } finally {
    await context.close();
  }
}

/** Waits until the near cache serves (its invalidations armed): a second read of one session sends Redis nothing. */
async function untilServing(redis: BenchRedis, store: RedisSessionStore, sid: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    await read(store, sid);
    if ((await hgetallsDuring(redis, () => read(store, sid))) === 0) return;
    await delay(100);
  }
  throw new Error('near cache: not serving after 10 s');
}

async function hgetallsDuring(redis: BenchRedis, action: () => Promise<unknown>): Promise<number> {
  const calls = async () => (await commandCalls(redis.admin)).hgetall ?? 0;
  const before = await calls();
  await action();
  return (await calls()) - before;
}

async function read(store: RedisSessionStore, sid: string): Promise<void> {
  await store.get(sid);
}

/** The heap once full GCs stop freeing anything (at most 10): later collections free what earlier ones' finalisers released. */
function heapAfterGc(gc: () => void): number {
  let heap = Infinity;
  for (let pass = 0; pass < 10; pass++) {
    gc();
    const now = process.memoryUsage().heapUsed;
    if (now >= heap - 1024) return now;
    heap = now;
  }
  return heap;
}

/** V8's `gc()`, exposed at run time: the bench's process is not started with `--expose-gc`. */
function exposedGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}
