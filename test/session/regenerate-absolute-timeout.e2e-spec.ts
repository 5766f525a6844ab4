import Redis from 'ioredis';
import { createHash } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { deleteByPrefix, uniquePrefix } from '../support/prefix';
import { startSessionApp, type RunningApp } from './support/session-app';
import { Visitor } from './support/http-client';

const IDLE_MS = 2_000;
const ABSOLUTE_MS = 3_000;
/** How long before the regenerate the session was created: a restarted deadline would be this much later. */
const AGE_AT_REGENERATE_MS = 1_000;
/** Between two requests of the active visitor: well inside the idle timeout, and more than touchAfter (a tenth of it). */
const ACTIVITY_MS = 250;
/** Past the deadline before looking: Redis and the app share this machine's clock, so a little is enough. */
const MARGIN_MS = 150;

/** The creation time field (`FIELD.createdAt`), spelled here as Redis shows it. */
const CREATED_AT_FIELD = ':c';

/**
 * The session's Redis key, computed here rather than with the library's helpers, so a broken key
 * scheme cannot agree with itself: the prefix and the first 32 base64url characters of the ID's SHA-256.
 */
function redisKeyOf(prefix: string, visitor: Visitor): string {
  const id = decodeURIComponent(visitor.cookie!.slice(visitor.cookie!.indexOf('=') + 1)) // s:<id>.<signature>
    .slice(2)
    .split('.')[0];
  return prefix + createHash('sha256').update(id).digest('base64url').slice(0, 32);
}

/** Resolves at `at` (ms since the epoch), at once when it is past. */
function until(at: number): Promise<void> {
  return delay(Math.max(0, at - Date.now()));
}

/**
 * `regenerate()` gives the session a new ID (a privilege change) and keeps its data: it must keep its
 * creation time too. The absolute timeout is the promise that a session ends at a fixed time however
 * active it is; were it restarted by a regenerate, an app that regenerates now and then would keep a
 * stolen session alive for ever.
 */
describe('regenerate keeps the absolute deadline', () => {
  let redis: RedisServerHandle;
  let admin: Redis;
  let app: RunningApp;
  const prefix = uniquePrefix('regen-deadline');

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    app = await startSessionApp({ redis: redis.url, prefix, idleTimeout: IDLE_MS, absoluteTimeout: ABSOLUTE_MS });
  });

  afterAll(async () => {
    await app?.close();
    if (admin) await deleteByPrefix(admin, prefix);
    admin?.disconnect();
    await redis?.stop();
  });

  it('keeps the creation time under the new ID, and the active session ends at the original deadline', async () => {
    const visitor = new Visitor(app.url);
    expect((await visitor.post('/inc')).status).toBe(200);
    const oldKey = redisKeyOf(prefix, visitor);
    const createdAt = Number(await admin.hget(oldKey, CREATED_AT_FIELD));
    expect(createdAt).toBeGreaterThan(0);
    const deadline = createdAt + ABSOLUTE_MS;

    await until(createdAt + AGE_AT_REGENERATE_MS);
    const oldCookie = visitor.cookie;
    expect((await visitor.post('/regenerate')).status).toBe(204);
    expect(visitor.cookie).not.toBe(oldCookie);
    const newKey = redisKeyOf(prefix, visitor);
    await expect(admin.exists(oldKey)).resolves.toBe(0);
    await expect(admin.hget(newKey, CREATED_AT_FIELD)).resolves.toBe(String(createdAt));
    expect(Number(await admin.call('PEXPIRETIME', newKey))).toBeLessThanOrEqual(deadline);

    // Active up to the deadline: every read slides the idle timeout, never past the deadline.
    while (Date.now() < deadline - 2 * ACTIVITY_MS) {
      const res = await visitor.get('/peek');
      expect(res.status).toBe(200);
      // Answered before the deadline, so read before it: the session was alive, with its data.
      if (Date.now() < deadline) expect(res.body).toEqual({ views: 1 });
      expect(Number(await admin.call('PEXPIRETIME', newKey))).toBeLessThanOrEqual(deadline);
      await delay(ACTIVITY_MS);
    }

    await until(deadline + MARGIN_MS);
    const late = await visitor.get('/peek');
    expect(late.status).toBe(200);
    expect(late.body).toEqual({ views: null });
    await expect(admin.exists(newKey)).resolves.toBe(0);
  });
});
