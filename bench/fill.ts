import { randomBytes } from 'node:crypto';
import type { ChainableCommander, Redis } from 'ioredis';
import { storedPairs } from '@app/session/redis/field-pieces';
import { benchUser } from './apps/cart';
import { typicalSession } from './memory';

const BATCH = 2_000; // sessions per pipeline
const PIPELINES_IN_FLIGHT = 2;
export const SESSIONS_PER_USER = 5;

/** Writes `count` items through pipelines of BATCH, a couple in flight, so a million takes seconds. */
async function inBatches(admin: Redis, count: number, write: (pipeline: ChainableCommander, from: number, to: number) => void): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const from = next;
      const to = Math.min(count, from + BATCH);
      next = to;
      const pipeline = admin.pipeline();
      write(pipeline, from, to);
      const replies = (await pipeline.exec()) ?? [];
      const failed = replies.find(([error]) => error)?.[0];
      if (failed) throw failed;
    }
  };
  await Promise.all(Array.from({ length: PIPELINES_IN_FLIGHT }, worker));
}

/**
 * Clones a session our library wrote (through a real login) into `count` sessions of other users,
 * five per user, each user with its index entry: the hash fields and the index layout are copied from
 * the template, only the user and the key's digest change.
 */
export async function cloneOursSessions(
  admin: Redis,
  template: { sessionKey: string; indexKey: string; userId: string; prefix: string },
  count: number,
): Promise<void> {
  const fields = await admin.hgetall(template.sessionKey);
  const ttl = await admin.pttl(template.sessionKey);
  const score = await admin.zscore(template.indexKey, template.sessionKey.slice(template.prefix.length));
  const indexTtl = await admin.pttl(template.indexKey);
  const digestLength = template.sessionKey.length - template.prefix.length;
  if (!template.indexKey.includes(template.userId) || score === null || ttl <= 0) {
    throw new Error(`unexpected template: index "${template.indexKey}", score ${score}, ttl ${ttl}`);
  }
  // Every field but the user's, whose head and pieces are written anew for each clone.
  const restFlat = Object.entries(fields)
    .filter(([field]) => field !== 'user' && !/^:\d+:user$/.test(field))
    .flat();
  await inBatches(admin, Math.ceil(count / SESSIONS_PER_USER), (pipeline, from, to) => {
    for (let u = from; u < to; u++) {
      const userId = `user-${u}`;
      const userJson = JSON.stringify(benchUser(userId));
      const indexKey = template.indexKey.replace(template.userId, encodeURIComponent(userId));
      const members: string[] = [];
      for (let s = 0; s < SESSIONS_PER_USER && u * SESSIONS_PER_USER + s < count; s++) {
        const digest = randomBytes(24).toString('base64url').slice(0, digestLength);
        pipeline.hset(template.prefix + digest, ...storedPairs('user', userJson), ...restFlat);
        pipeline.pexpire(template.prefix + digest, ttl);
        members.push(score, digest);
      }
      pipeline.zadd(indexKey, ...members);
      if (indexTtl > 0) pipeline.pexpire(indexKey, indexTtl);
    }
  });
}

/** `count` connect-redis sessions of other users, five per user, as its `set` writes them (JSON, EX ttl). */
export async function fillConnectRedisSessions(admin: Redis, prefix: string, ttlSeconds: number, count: number): Promise<void> {
  await inBatches(admin, count, (pipeline, from, to) => {
    for (let i = from; i < to; i++) {
      const sid = randomBytes(24).toString('base64url');
      const json = JSON.stringify(typicalSession(`user-${Math.floor(i / SESSIONS_PER_USER)}`));
      pipeline.set(prefix + sid, json, 'EX', ttlSeconds);
    }
  });
}
