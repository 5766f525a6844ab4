import { randomBytes } from 'node:crypto';
import { NestFactory } from '@nestjs/core';
import { RedisStore } from 'connect-redis';
import { Cookie, type SessionData } from 'express-session';
import { Redis } from 'ioredis';
import { RedisSessionStore } from '@app/session';
import { SEED_LINES, benchUser } from './apps/cart';
import { COOKIE, connectRedisStoreOptions } from './apps/connect-redis.app';
import { BENCH_ENCRYPTION_KEY, type Mode } from './apps/mode';
import { benchSessionModule } from './apps/ours.app';
import { loginWithCart, mapLimit } from './http';
import type { BenchOptions } from './options';
import { usedMemory, type BenchRedis } from './redis';
import type { MemoryResult } from './results';
import { startApp } from './throughput';

type Log = (line: string) => void;
type SetSession = (sid: string, session: SessionData) => Promise<unknown>;

const WRITES_IN_FLIGHT = 256;

/**
 * Redis bytes per typical session (a user and a three-line cart), each library writing it its own
 * way: connect-redis's `set` (one JSON string), ours' `RedisSessionStore.set` (one hash), and ours as a
 * real login over HTTP leaves it (device metadata, CSRF token and the per-user index included).
 */
export async function measureMemory(options: BenchOptions, redis: BenchRedis, log: Log): Promise<MemoryResult[]> {
  const results: MemoryResult[] = [];

  const client = new Redis(redis.url, { enableAutoPipelining: false });
  try {
    const store = new RedisStore(connectRedisStoreOptions(client));
    results.push(await throughStore('connect-redis: store.set', 'connect-redis', options.memoryCount, redis, (sid, s) => store.set(sid, s)));
  } finally {
    client.disconnect();
  }

  const context = await NestFactory.createApplicationContext(benchSessionModule(redis.url), { logger: false });
  try {
    const store = context.get(RedisSessionStore);
    results.push(await throughStore('ours: RedisSessionStore.set', 'ours', options.memoryCount, redis, (sid, s) => store.set(sid, s)));
  } finally {
    await context.close();
  }

  const sealing = await NestFactory.createApplicationContext(benchSessionModule(redis.url, { encryption: { keys: [BENCH_ENCRYPTION_KEY] } }), {
    logger: false,
  });
  try {
    const store = sealing.get(RedisSessionStore);
    results.push(await throughStore('ours-encrypted: RedisSessionStore.set', 'ours-encrypted', options.memoryCount, redis, (sid, s) => store.set(sid, s)));
  } finally {
    await sealing.close();
  }

  results.push(await throughLogin(options.memoryLoginCount, redis));
  results.push(await throughLogin(options.memoryLoginCount, redis, 'ours-encrypted'));
  for (const r of results) {
    log(
      `  ${r.label.padEnd(40)} ${r.bytesPerSession.toFixed(0).padStart(5)} B/session  (sample key ${r.sampleKeyBytes} B, ${r.encoding}, ${r.payloadBytes} B of data)`,
    );
  }
  return results;
}

/** The session express-session hands its store after a login and three additions to the cart. */
export function typicalSession(userId: string): SessionData {
  const CookieClass = Cookie as unknown as new (options: object) => Cookie;
  return { cookie: new CookieClass(COOKIE), user: benchUser(userId), cart: SEED_LINES };
}

async function throughStore(label: string, mode: Mode, count: number, redis: BenchRedis, set: SetSession): Promise<MemoryResult> {
  await redis.admin.flushall();
  const before = await usedMemory(redis.admin);
  const ids = Array.from({ length: count }, () => randomBytes(24).toString('base64url'));
  await mapLimit(ids, WRITES_IN_FLIGHT, (sid, i) => set(sid, typicalSession(`user-${i}`)));
  const after = await usedMemory(redis.admin);
  return { label, mode, count, bytesPerSession: (after - before) / count, ...(await sampleKey(redis, 'string', 'hash')) };
}

async function throughLogin(count: number, redis: BenchRedis, mode: Mode = 'ours'): Promise<MemoryResult> {
  await redis.admin.flushall();
  const app = await startApp(mode, { sessions: 0 }, redis);
  try {
    const before = await usedMemory(redis.admin);
    const users = Array.from({ length: count }, (_, i) => `user-${i}`);
    await mapLimit(users, 16, (user) => loginWithCart(app.port, user));
    const after = await usedMemory(redis.admin);
    return {
      label: `${mode}: HTTP login (+ index, CSRF, metadata)`,
      mode,
      count,
      bytesPerSession: (after - before) / count,
      ...(await sampleKey(redis, 'hash')),
    };
  } finally {
    await app.child.stop();
  }
}

/** MEMORY USAGE, encoding and data bytes of one session key (a string or a hash, not an index). */
async function sampleKey(redis: BenchRedis, ...types: string[]): Promise<Pick<MemoryResult, 'sampleKeyBytes' | 'payloadBytes' | 'encoding'>> {
  const { admin } = redis;
  for (const type of types) {
    const [, keys] = (await admin.call('SCAN', '0', 'TYPE', type, 'COUNT', '1000')) as [string, string[]];
    const key = keys.find((k) => !k.includes(':user:'));
    if (!key) continue;
    const sampleKeyBytes = Number(await admin.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
    const encoding = `${type}/${String(await admin.call('OBJECT', 'ENCODING', key))}`;
    const payloadBytes =
      type === 'string'
        ? await admin.strlen(key)
        : Object.entries(await admin.hgetall(key)).reduce((sum, [field, value]) => sum + Buffer.byteLength(field) + Buffer.byteLength(value), 0);
    return { sampleKeyBytes, payloadBytes, encoding };
  }
  throw new Error('no session key found to sample');
}
