import { randomBytes } from 'node:crypto';
import { NestFactory } from '@nestjs/core';
import { RedisStore } from 'connect-redis';
import { Cookie, type SessionData } from 'express-session';
import { Redis } from 'ioredis';
import { RedisSessionStore } from '@app/session';
import { joinPieces } from '@app/session/redis/field-pieces';
import { SEED_LINES, benchUser } from './apps/cart';
import { COOKIE, connectRedisStoreOptions } from './apps/connect-redis.app';
import { BENCH_ENCRYPTION_KEY, type Mode } from './apps/mode';
import { benchSessionModule } from './apps/ours.app';
import { loginWithCart, mapLimit } from './http';
import type { BenchOptions } from './options';
import { breakDownKey, probeLayouts, sharedKeys } from './memory-breakdown';
import { usedMemory, type BenchRedis } from './redis';
import type { KeyBreakdown, MemoryResult } from './results';
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
    for (const k of r.breakdown ?? []) {
      const fields = (k.fields ?? []).map((f) => `${f.field.length > 24 ? '<digest>' : f.field} ${f.marginalBytes}`).join(', ');
      const shared = k.sharedPerSession === undefined ? '' : ` = ${k.sharedPerSession.toFixed(1)} B per session`;
      log(`    ${r.mode} ${k.role}: ${k.type}/${k.encoding} ${k.bytes} B${shared}${fields ? ` (${fields})` : ''}`);
    }
    for (const p of r.layouts ?? []) log(`    layout probe: ${p.layout}: ${p.encoding} ${p.bytes} B`);
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
  const { key, ...sample } = await sampleKey(redis, 'string', 'hash');
  const result: MemoryResult = { label, mode, count, bytesPerSession: (after - before) / count, ...sample };
  result.breakdown = await sessionKeys(redis, key, count);
  if (mode === 'ours') result.layouts = await probeLayouts(redis.admin, joinPieces(await redis.admin.hgetall(key)));
  return result;
}

async function throughLogin(count: number, redis: BenchRedis, mode: Mode = 'ours'): Promise<MemoryResult> {
  await redis.admin.flushall();
  const app = await startApp(mode, { sessions: 0 }, redis);
  try {
    const before = await usedMemory(redis.admin);
    const users = Array.from({ length: count }, (_, i) => `user-${i}`);
    await mapLimit(users, 16, (user) => loginWithCart(app.port, user));
    const after = await usedMemory(redis.admin);
    const { key, ...sample } = await sampleKey(redis, 'hash');
    return {
      label: `${mode}: HTTP login (+ index, CSRF, metadata)`,
      mode,
      count,
      bytesPerSession: (after - before) / count,
      ...sample,
      breakdown: await sessionKeys(redis, key, count),
    };
  } finally {
    await app.child.stop();
  }
}

/** MEMORY USAGE, encoding and data bytes of one session key (a string or a hash, not an index). */
/** A session's keys broken down: its own, its user's index (if any), and its share of keys every session shares. */
async function sessionKeys(redis: BenchRedis, key: string, count: number): Promise<KeyBreakdown[]> {
  const index = key.startsWith('sess:') ? await indexOf(redis, key) : undefined;
  const isPerSession = (k: string) => k.startsWith('sess:user:') || !k.includes(':', 'sess:'.length);
  return [
    await breakDownKey(redis.admin, key, 'session'),
    ...(index ? [await breakDownKey(redis.admin, index, "the user's index (one session)")] : []),
    ...(await sharedKeys(redis.admin, isPerSession, count)),
  ];
}

/** The user index (`sess:user:…`) whose members include the session key's digest. */
async function indexOf(redis: BenchRedis, sessionKey: string): Promise<string | undefined> {
  const digest = sessionKey.slice('sess:'.length);
  let cursor = '0';
  do {
    const [next, keys] = await redis.admin.scan(cursor, 'MATCH', 'sess:user:*', 'COUNT', 1000);
    cursor = next;
    // One pipeline per SCAN batch: with 100,000 users a ZSCORE at a time would take seconds.
    const pipeline = redis.admin.pipeline();
    for (const key of keys) pipeline.zscore(key, digest);
    const scores = (await pipeline.exec()) ?? [];
    const at = scores.findIndex(([error, score]) => !error && score !== null);
    if (at !== -1) return keys[at];
  } while (cursor !== '0');
  return undefined;
}

async function sampleKey(redis: BenchRedis, ...types: string[]): Promise<Pick<MemoryResult, 'sampleKeyBytes' | 'payloadBytes' | 'encoding'> & { key: string }> {
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
    return { sampleKeyBytes, payloadBytes, encoding, key };
  }
  throw new Error('no session key found to sample');
}
