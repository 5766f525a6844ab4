import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { startReplicas, type RunningApp } from './support/session-app';
import { Visitor } from './support/http-client';

/** Concurrent requests of one session, on one replica or several, never lose each other's changes. */
describe('concurrent requests of one session', () => {
  let redis: RedisServerHandle;
  let replicas: RunningApp[];

  beforeAll(async () => {
    redis = await startRedis();
    replicas = await startReplicas(3, { redis: redis.url, prefix: uniquePrefix('concurrency') });
  });

  afterAll(async () => {
    await Promise.all((replicas ?? []).map((replica) => replica.close()));
    await redis?.stop();
  });

  /** Visitors that share one cookie but send each request to the next replica, round robin. */
  function roundRobin(cookie?: string) {
    let next = 0;
    const visitor = new Visitor(() => replicas[next++ % replicas.length].url);
    visitor.cookie = cookie;
    return visitor;
  }

  it('keeps changes to different keys made by parallel requests (delta writes)', async () => {
    const visitor = roundRobin();
    await visitor.post('/set/seed', { value: 0 });
    const keys = Array.from({ length: 12 }, (_, i) => `k${i}`);
    // Each request loads the session, waits so that all of them overlap, then writes its own key.
    await Promise.all(keys.map((key, i) => roundRobin(visitor.cookie).post(`/set/${key}`, { value: i, delayMs: 100 })));
    const res = await visitor.get('/whole');
    for (const [i, key] of keys.entries()) expect(res.body[key]).toBe(i);
  });

  it('keeps all 50 items added in parallel through SessionService.update over three replicas', async () => {
    const visitor = roundRobin();
    await visitor.post('/set/seed', { value: 1 });
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => roundRobin(visitor.cookie).post('/items', { item: `item-${i}` })));
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
    const { body } = await visitor.get('/whole');
    expect(body.items).toHaveLength(50);
    expect(new Set(body.items)).toEqual(new Set(Array.from({ length: 50 }, (_, i) => `item-${i}`)));
  });

  it('does not let a request still in flight undo a logout', async () => {
    const visitor = roundRobin();
    await visitor.post('/login', { id: 'racer' });
    const cookie = visitor.cookie;
    // A slow request loads the session, then writes after the logout has happened.
    const slow = roundRobin(cookie).post('/set/late', { value: 'written after logout', delayMs: 300 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const logout = await roundRobin(cookie).post('/logout');
    expect(logout.status).toBe(204);
    expect((await slow).status).toBe(200);

    const replay = roundRobin(cookie);
    for (let i = 0; i < replicas.length; i++) {
      expect((await replay.get('/me')).status).toBe(401);
      expect((await replay.get('/peek')).body).toEqual({ views: null });
    }
  });

  it('does not let a request still in flight undo the rotation of a login', async () => {
    const visitor = roundRobin();
    await visitor.post('/set/views', { value: 7 });
    const oldCookie = visitor.cookie;
    const slow = roundRobin(oldCookie).post('/set/late', { value: true, delayMs: 300 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await visitor.post('/login', { id: 'rotator' });
    await slow;
    expect(visitor.cookie).not.toEqual(oldCookie);
    expect((await roundRobin(oldCookie).get('/peek')).body).toEqual({ views: null });
    expect((await visitor.get('/peek')).body).toEqual({ views: 7 });
  });
});
