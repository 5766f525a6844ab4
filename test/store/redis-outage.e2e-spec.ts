import Redis from 'ioredis';
import { once } from 'node:events';
import { RedisSessionStore, SessionStoreUnavailableError } from '@app/session';
import { deleteByPrefix, uniquePrefix } from '../support/prefix';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { freshSession, newSid, recordingLogger, sleepUntilAfter } from './fixtures';
import { sessionRedisKey } from '../support/key-scheme';
import { DEADLINE_MARGIN_MS } from '../support/deadline-margin';

/**
 * Redis going away and coming back, on a Redis this file controls: the store's connection events,
 * bounded failures while it is gone (fast when the connection is known lost, redisDeadline when
 * Redis hangs), and recovery on the same client.
 */
const REDIS_DEADLINE = 1_000;
const BOUND = REDIS_DEADLINE + DEADLINE_MARGIN_MS; // the contract (redisDeadline) plus what a loaded machine holds

let redis: RedisServerHandle;
let admin: Redis;
let client: Redis;
let store: RedisSessionStore;
let prefix: string;

beforeAll(async () => {
  redis = await startRedis({ controllable: true });
  admin = new Redis(redis.url, { retryStrategy: () => 50 });
});
afterAll(async () => {
  admin?.disconnect();
  await redis?.stop();
});
beforeEach(async () => {
  prefix = uniquePrefix('outage');
  // An ordinary client that reconnects, retrying fast so the test need not wait for ioredis' back-off.
  client = new Redis(redis.url, { retryStrategy: () => 50 });
  await once(client, 'ready');
  store = new RedisSessionStore({ client, prefix, redisDeadline: REDIS_DEADLINE, logger: recordingLogger() });
});
afterEach(async () => {
  await redis.resume();
  await deleteByPrefix(admin, prefix);
  client.disconnect();
});

/** Every store operation, each a promise that must settle. */
function everyOperation(sid: string): [string, () => Promise<unknown>][] {
  return [
    ['get', () => store.get(sid)],
    ['set', () => store.set(sid, freshSession(store, sid, { n: 2 }))],
    ['touch', () => store.touch(sid, freshSession(store, sid, {}, { maxAge: 60_000 }))],
    ['destroy', () => store.destroy(sid)],
    ['all', () => store.all()],
    ['ids', () => store.ids()],
    ['length', () => store.length()],
    ['clear', () => store.clear()],
  ];
}

async function expectUnavailableWithinBound(sid: string): Promise<number[]> {
  const elapsed: number[] = [];
  for (const [name, operation] of everyOperation(sid)) {
    const started = Date.now();
    const error = await operation().then(
      () => new Error(`${name} succeeded`),
      (e: unknown) => e,
    );
    elapsed.push(Date.now() - started);
    expect([name, error]).toEqual([name, expect.any(SessionStoreUnavailableError)]);
    expect([name, elapsed.at(-1)]).toEqual([name, expect.toBeBelow(BOUND)]);
  }
  return elapsed;
}

expect.extend({
  toBeBelow(received: number, bound: number) {
    return { pass: received < bound, message: () => `expected ${received} ms to be below ${bound} ms` };
  },
});
declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace jest {
    interface Expect {
      toBeBelow(bound: number): unknown;
    }
  }
}

it("emits 'disconnect' when Redis goes away and 'connect' when it is back", async () => {
  const events: string[] = [];
  store.on('disconnect', () => events.push('disconnect'));
  store.on('connect', () => events.push('connect'));

  const disconnected = once(store, 'disconnect');
  await redis.interrupt();
  await disconnected;
  expect(events).toEqual(['disconnect']);

  const connected = once(store, 'connect');
  await redis.resume();
  await connected;
  expect(events).toEqual(['disconnect', 'connect']);
});

it('fails every operation with SessionStoreUnavailableError within the bound while Redis is down, then works again on the same client', async () => {
  const sid = newSid();
  await store.set(sid, freshSession(store, sid, { n: 1 }, { maxAge: 60_000 }));

  const disconnected = once(store, 'disconnect');
  await redis.interrupt();
  await disconnected;
  await expectUnavailableWithinBound(sid);

  const connected = once(store, 'connect');
  await redis.resume();
  await connected;
  // Same client, no reconnect by hand. (A command that timed out while queued may still run now, so
  // this checks with a session of its own.)
  const after = newSid();
  await store.set(after, freshSession(store, after, { n: 3 }, { maxAge: 60_000 }));
  await expect(store.get(after)).resolves.toMatchObject({ n: 3 });
  await expect(store.ids()).resolves.toContain(sessionRedisKey(prefix, after).slice(prefix.length));
});

it('fails after redisDeadline, not later, when Redis accepts the connection but does not answer', async () => {
  const sid = newSid();
  await store.set(sid, freshSession(store, sid, { n: 1 }, { maxAge: 60_000 }));
  // Redis stops serving clients for longer than the bound: the connection stays up, commands hang.
  // (The pause blocks every client, this one too, so it is left to run out rather than lifted.)
  const pauseMs = BOUND + 300;
  const pausedUntil = Date.now() + pauseMs;
  await admin.call('CLIENT', 'PAUSE', pauseMs, 'ALL');
  const elapsed = await Promise.all(
    everyOperation(sid).map(async ([name, operation]) => {
      const started = Date.now();
      const error = await operation().then(
        () => new Error(`${name} succeeded`),
        (e: unknown) => e,
      );
      expect([name, error]).toEqual([name, expect.any(SessionStoreUnavailableError)]);
      expect((error as Error).message).toMatch(/1000 ms/);
      return Date.now() - started;
    }),
  );
  for (const ms of elapsed) {
    expect(ms).toBeGreaterThanOrEqual(REDIS_DEADLINE - 50); // it was the deadline that fired
    expect(ms).toBeLessThan(BOUND);
  }
  await sleepUntilAfter(pausedUntil);
  const other = newSid();
  await store.set(other, freshSession(store, other, { n: 7 }, { maxAge: 60_000 }));
  await expect(store.get(other)).resolves.toMatchObject({ n: 7 });
});

it('fails with SessionStoreUnavailableError, not a raw client error, when no connection can be made at all', async () => {
  // A client that has not connected yet (lazyConnect) and will not retry: ioredis' own error must be wrapped.
  const lazy = new Redis(redis.url, { lazyConnect: true, retryStrategy: () => null });
  lazy.on('error', () => undefined);
  const cold = new RedisSessionStore({ client: lazy, prefix, redisDeadline: REDIS_DEADLINE, logger: recordingLogger() });
  try {
    await redis.interrupt();
    const started = Date.now();
    await expect(cold.get(newSid())).rejects.toBeInstanceOf(SessionStoreUnavailableError);
    expect(Date.now() - started).toBeLessThan(BOUND);
  } finally {
    lazy.disconnect();
  }
});

it('fails within the bound too when the client bounds its own commands (ioredis commandTimeout)', async () => {
  const bounded = new Redis(redis.url, { commandTimeout: 600, retryStrategy: () => 50 });
  await once(bounded, 'ready');
  const own = new RedisSessionStore({ client: bounded, prefix, redisDeadline: REDIS_DEADLINE, logger: recordingLogger() });
  try {
    const sid = newSid();
    await own.set(sid, freshSession(own, sid, { n: 1 }, { maxAge: 60_000 }));
    const pauseMs = BOUND + 300;
    const pausedUntil = Date.now() + pauseMs;
    await admin.call('CLIENT', 'PAUSE', pauseMs, 'ALL');
    const started = Date.now();
    await expect(own.get(sid)).rejects.toBeInstanceOf(SessionStoreUnavailableError);
    expect(Date.now() - started).toBeLessThan(BOUND);
    await sleepUntilAfter(pausedUntil);
    await expect(own.get(sid)).resolves.toMatchObject({ n: 1 });
  } finally {
    bounded.disconnect();
  }
});
