import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { testHttpPlatform } from '../support/http-platform';
import { startSessionApp, type RunningApp } from './support/session-app';
import { Visitor } from './support/http-client';
import { gates } from './support/gates';
import { DEADLINE_MARGIN_MS, DEFAULT_REDIS_DEADLINE_MS } from '../support/deadline-margin';

/** The app runs with the default `redisDeadline`: every answer comes within it, plus the test's margin. */
const WITHIN_MS = DEFAULT_REDIS_DEADLINE_MS + DEADLINE_MARGIN_MS;

/**
 * With Redis gone, a request that needs its session fails loudly and fast (503), never as an
 * anonymous user; cookie-less requests that store nothing carry on; recovery needs no restart.
 */
describe('when Redis is unavailable', () => {
  let redis: RedisServerHandle;
  let app: RunningApp;

  beforeAll(async () => {
    redis = await startRedis({ controllable: true });
    app = await startSessionApp({ redis: redis.url, prefix: uniquePrefix('outage') });
  });

  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  async function timed<T>(action: () => Promise<T>): Promise<[T, number]> {
    const started = Date.now();
    const result = await action();
    return [result, Date.now() - started];
  }

  it('answers 503 within redisDeadline, keeps cookie-less visitors working, and recovers', async () => {
    const user = new Visitor(app.url);
    await user.post('/login', { id: 'alice' });
    expect((await user.get('/me')).status).toBe(200);

    await redis.interrupt();
    try {
      for (const path of ['/me', '/whole', '/peek']) {
        const [res, ms] = await timed(() => user.get(path));
        expect({ path, status: res.status }).toEqual({ path, status: 503 });
        expect(res.body).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
        expect(res.body.message).toMatch(/session store unavailable/i);
        expect(ms).toBeLessThan(WITHIN_MS);
      }
      // Many at once do not pile up behind each other (queued, 20 of them would take 20 deadlines).
      const [burst, burstMs] = await timed(() => Promise.all(Array.from({ length: 20 }, () => user.get('/me'))));
      expect(burst.map((r) => r.status)).toEqual(Array(20).fill(503));
      expect(burstMs).toBeLessThan(WITHIN_MS);

      const stranger = new Visitor(app.url);
      expect((await stranger.get('/public')).status).toBe(200);
      expect((await stranger.get('/peek')).body).toEqual({ views: null });
      expect((await stranger.get('/whole')).status).toBe(200);
      // Storing something needs Redis: a clear 503, not a silent loss.
      expect((await new Visitor(app.url).post('/items', { item: 'x' })).status).toBe(503);
    } finally {
      await redis.resume();
    }

    await waitFor(async () => (await user.get('/me')).status === 200);
    expect((await user.get('/me')).body).toEqual({ user: { id: 'alice', name: 'alice' } });
  });

  it("answers 503 instead of the handler's 200 when the end-of-request save fails", async () => {
    const user = new Visitor(app.url);
    await user.post('/inc');
    // The handler is held until Redis is gone: it then answers 200, and the save cannot happen.
    const gate = gates.unique('save-fails');
    const pending = user.post('/set/late', { value: 1, gate });
    await gates.arrived(gate);
    await redis.interrupt();
    gates.open(gate);
    try {
      const res = await pending;
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
    } finally {
      await redis.resume();
    }
    await waitFor(async () => (await user.get('/whole')).status === 200);
    expect((await user.get('/whole')).body).not.toHaveProperty('late');
  });

  // Express sends a streamed answer's headers before the save; Fastify's onSend saves before the first byte.
  const streamedCase = testHttpPlatform() === 'express' ? it : it.skip;
  const fastifyCase = testHttpPlatform() === 'fastify' ? it : it.skip;

  fastifyCase('answers 503 instead of a streamed answer whose save fails (Fastify saves before the first byte)', async () => {
    const user = new Visitor(app.url);
    await redis.interrupt();
    try {
      const res = await user.post('/stream-set/late', { value: 1 });
      expect(res.status).toBe(503);
      expect(res.setCookie).toBeNull();
    } finally {
      await redis.resume();
    }
    // Back to serving sessions before the next test (the client reconnects with a backoff): this
    // visitor had none, so only a request that stores one shows Redis is back.
    await waitFor(async () => (await new Visitor(app.url).post('/inc')).status === 200);
  });

  streamedCase('cuts the connection when the save fails after a streamed answer has started', async () => {
    const user = new Visitor(app.url);
    await user.post('/inc');
    const gate = gates.unique('stream-save-fails');
    const pending = user.post('/stream-set/late', { value: 1, gate }).then(
      (res) => res.status,
      (error: Error) => error.message,
    );
    await gates.arrived(gate); // the headers are out
    await redis.interrupt();
    gates.open(gate);
    try {
      expect(await pending).toMatch(/fetch failed|terminated/);
    } finally {
      await redis.resume();
    }
    await waitFor(async () => (await user.get('/whole')).status === 200);
    expect((await user.get('/whole')).body).not.toHaveProperty('late');
  });

  it('answers 503 when Redis hangs instead of refusing, within redisDeadline', async () => {
    const user = new Visitor(app.url);
    expect((await user.post('/inc')).status).toBe(200); // a session to read, or the read below would need no Redis
    const { default: Redis } = await import('ioredis');
    const admin = new Redis(redis.url);
    try {
      // CLIENT PAUSE keeps connections open but answers nothing: the bounded wait is what saves us. The
      // pause outlasts the bound, so an answer within it was the deadline firing, not Redis coming back.
      await admin.call('CLIENT', 'PAUSE', String(WITHIN_MS + 2_000), 'ALL');
      const [res, ms] = await timed(() => user.get('/whole'));
      expect(res.status).toBe(503);
      expect(ms).toBeGreaterThanOrEqual(DEFAULT_REDIS_DEADLINE_MS - 50);
      expect(ms).toBeLessThan(WITHIN_MS);
    } finally {
      admin.disconnect(); // the pause runs out by itself (it holds this connection's commands too)
    }
    await waitFor(async () => (await user.get('/whole')).status === 200);
    expect((await user.get('/whole')).body).toMatchObject({ views: 1 });
  });
});

/**
 * `redisDeadline: 0` means no deadline: a request waits for as long as Redis takes. No ioredis
 * `commandTimeout` of 0 either, which would fail every command that takes more than a timer's turn.
 */
describe('with redisDeadline: 0', () => {
  let redis: RedisServerHandle;
  let app: RunningApp;

  beforeAll(async () => {
    redis = await startRedis();
    app = await startSessionApp({ redis: redis.url, prefix: uniquePrefix('no-deadline'), redisDeadline: 0 });
  });

  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it('waits for a Redis that answers late rather than failing the request', async () => {
    const user = new Visitor(app.url);
    expect((await user.post('/inc')).status).toBe(200);
    const { default: Redis } = await import('ioredis');
    const admin = new Redis(redis.url);
    try {
      await admin.call('CLIENT', 'PAUSE', String(PAUSE_MS), 'ALL');
      const started = Date.now();
      const res = await user.get('/whole');
      expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: expect.objectContaining({ views: 1 }) });
      expect(Date.now() - started).toBeGreaterThanOrEqual(PAUSE_MS - 50); // it waited out the pause
      expect((await user.post('/inc')).status).toBe(200);
    } finally {
      admin.disconnect();
    }
  });
});

/** How long Redis answers nothing in the test of `redisDeadline: 0`. */
const PAUSE_MS = 300;

async function waitFor(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`condition not met within ${ms} ms`);
}
