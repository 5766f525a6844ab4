import { Body, Controller, Get, HttpCode, Post, Req } from '@nestjs/common';
import type { Request } from 'express';
import Redis, { Cluster } from 'ioredis';
import { Registry } from 'prom-client';
import { RedisSessionStore, SessionService, type SessionRedisOption } from '@app/session';
import { newSessionId } from '@app/session/redis/session-id';
import { sealSuccessor } from '@app/session/store/successor-seal';
import { FIELD } from '@app/session/redis/session-fields';
import { SessionRenewal } from '@app/session/renewal/session-renewal';
import { SessionCore } from '@app/session/store/session-core';
import { startRedis } from '../support/redis';
import { startCluster, topologyAvailable } from '../support/topologies';
import { openMonitor } from '../support/monitor';
import { uniquePrefix } from '../support/prefix';
import { startSessionApp, type RunningApp } from './support/session-app';
import { Visitor, type TestResponse } from './support/http-client';
import { TokenClient } from './support/token-client';
import { randomBytes } from 'node:crypto';
import { digestOf, sessionRedisKey, userIndexRedisKey } from '../support/key-scheme';

/**
 * Requests held inside their handler, after the way in loaded their session: they stand for the
 * requests in flight at the moment another one renews the session (a slow upload, a parallel tab).
 */
const held = { entered: 0, release: (): void => undefined, gate: Promise.resolve() };

function closeGate(): void {
  held.entered = 0;
  held.gate = new Promise<void>((resolve) => (held.release = resolve));
}

@Controller()
class HeldController {
  constructor(private readonly sessions: SessionService) {}

  /** Adds an item once the gate opens: an atomic update whose session was loaded before the renewal. */
  @Post('held-items')
  @HttpCode(200)
  async add(@Req() req: Request, @Body() body: { item: string }) {
    held.entered++;
    await held.gate;
    const items = await this.sessions.update(req, 'items', (current) => [...(current ?? []), body.item]);
    return { count: items?.length };
  }

  /** Sets a key once the gate opens: the end-of-request save of a session loaded before the renewal. */
  @Post('held-set')
  @HttpCode(200)
  async set(@Req() req: Request, @Body() body: { key: string; value: unknown }) {
    held.entered++;
    await held.gate;
    (req.session as unknown as Record<string, unknown>)[body.key] = body.value;
    return { ok: true };
  }

  /** Answers once the gate opens, changing nothing: a read-only request still running at the renewal. */
  @Get('held-peek')
  async peek(@Req() req: Request) {
    held.entered++;
    await held.gate;
    return { user: req.session.user ?? null };
  }

  /** Logs out once the gate opens: a logout whose session was loaded under the ID renewed meanwhile. */
  @Post('held-logout')
  @HttpCode(204)
  async logout(@Req() req: Request) {
    held.entered++;
    await held.gate;
    await this.sessions.logout(req);
  }
}

type Topology = { redis: SessionRedisOption; admin: Redis | Cluster; stop(): Promise<void> };

const available = topologyAvailable();
const unless = (ok: boolean) => (ok ? describe : describe.skip);

/** The session ID a `sid=s%3A<id>.<signature>` cookie carries. */
function idOf(cookie: string): string {
  return decodeURIComponent(cookie.split('=')[1]).slice(2).split('.')[0];
}

/** The session cookie a response set (name=value), or undefined. */
function cookieSet(res: TestResponse): string | undefined {
  return res.setCookie?.split(';')[0];
}

async function pollUntil<T>(what: string, probe: () => Promise<T | undefined>, limitMs = 20_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Periodic ID renewal (`renewal`): one successor across replicas, no write lost, the old ID dead after the grace. */
describe.each<[string, boolean, () => Promise<Topology>]>([
  [
    'standalone',
    true,
    async () => {
      const redis = await startRedis();
      const admin = new Redis(redis.url);
      return { redis: redis.url, admin, stop: () => redis.stop() };
    },
  ],
  [
    `Cluster${available.cluster ? '' : ` (skipped: ${available.reason})`}`,
    available.cluster,
    async () => {
      const cluster = await startCluster();
      const admin = new Cluster(cluster.nodes);
      return { redis: { cluster: cluster.nodes }, admin, stop: () => cluster.stop() };
    },
  ],
])('session ID renewal on %s Redis', (_name, ok, start) => {
  unless(ok)('', () => {
    let topology: Topology;
    const running: RunningApp[] = [];

    beforeAll(async () => {
      topology = await start();
    });

    afterAll(async () => {
      await Promise.all(running.map((app) => app.close()));
      topology?.admin.disconnect();
      await topology?.stop();
    });

    /** `count` replicas sharing a prefix, each with its own metrics registry. */
    async function replicas(count: number, renewal: { interval: number; grace: number }, extra: object = {}) {
      const prefix = uniquePrefix('renewal');
      const apps: { app: RunningApp; registry: Registry }[] = [];
      for (let i = 0; i < count; i++) {
        const registry = new Registry();
        const app = await startSessionApp({ redis: topology.redis, prefix, renewal, metrics: { registry }, ...extra }, [HeldController]);
        running.push(app);
        apps.push({ app, registry });
      }
      return { prefix, apps };
    }

    /** Makes the session's ID look issued longer ago than the interval, so its next request renews it. */
    async function makeDue(prefix: string, cookie: string, interval: number): Promise<void> {
      expect(await topology.admin.hset(sessionRedisKey(prefix, idOf(cookie)), FIELD.issuedAt, String(Date.now() - interval - 1_000))).toBe(0);
    }

    /** Every key under the prefix, with its TTL in ms (-1: no expiry, which no key may have; -2: expired meanwhile). */
    async function keysAndTtls(prefix: string): Promise<Map<string, number>> {
      const admin = topology.admin;
      const nodes = admin instanceof Cluster ? admin.nodes('master') : [admin];
      const found = new Map<string, number>();
      for (const node of nodes) {
        const keys = await node.keys(`${prefix}*`);
        for (const key of keys) found.set(key, await admin.pttl(key));
      }
      return found;
    }

    /**
     * After a logout, each session key left under the prefix is a tombstone (see `renewalRecordOf` in session-fields.ts:
     * the ended mark and its expiry field) or a retired pointer (the successor only), expiring
     * within the grace: no session.
     */
    async function expectOnlyTombstones(prefix: string, grace: number): Promise<void> {
      const left = [...(await keysAndTtls(prefix))].filter(([key]) => !key.includes('user:') && !key.includes('{activity}'));
      for (const [key, ttl] of left) {
        expect([[FIELD.ended, FIELD.expiresAt].sort(), [FIELD.successor]]).toContainEqual((await topology.admin.hkeys(key)).sort());
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(grace);
      }
    }

    async function renewalsCounted(registries: Registry[]): Promise<number> {
      let total = 0;
      for (const registry of registries) {
        const metric = await registry.getSingleMetric('session_id_renewals_total')!.get();
        total += metric.values.reduce((sum, { value }) => sum + value, 0);
      }
      return total;
    }

    it('renews a due session once across replicas under concurrent requests; every change lands on the successor', async () => {
      const interval = 60_000;
      const { prefix, apps } = await replicas(3, { interval, grace: 30_000 });
      const urls = apps.map(({ app }) => app.url);
      const visitor = new Visitor(urls[0]);
      await visitor.post('/login', { id: 'renew-user' });
      for (const item of ['a', 'b']) expect((await visitor.post('/items', { item })).status).toBe(200);
      const oldCookie = visitor.cookie!;
      const oldId = idOf(oldCookie);

      // In flight before the renewal: loaded under the old ID, held in their handlers.
      closeGate();
      const heldCount = 6;
      const inFlight = Array.from({ length: heldCount }, (_, i) =>
        new Visitor(urls[i % 3]).request('POST', i % 2 ? '/held-items' : '/held-set', {
          body: i % 2 ? { item: `held-${i}` } : { key: `note${i}`, value: i },
          headers: { cookie: oldCookie },
        }),
      );
      await pollUntil('the held requests to load their session', () => Promise.resolve(held.entered === heldCount ? true : undefined));

      // The renewal moment: many requests with the old cookie at once, spread over the replicas.
      await makeDue(prefix, oldCookie, interval);
      const burst = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          new Visitor(urls[i % 3]).request('POST', '/items', { body: { item: `burst-${i}` }, headers: { cookie: oldCookie } }),
        ),
      );
      held.release();
      const late = await Promise.all(inFlight);

      const all = [...burst, ...late];
      expect(all.map((res) => res.status)).toEqual(Array(all.length).fill(200));
      const cookies = new Set(all.map(cookieSet));
      expect(cookies.size).toBe(1); // one successor, and every response, held ones included, names it
      const [newCookie] = [...cookies];
      expect(newCookie).toBeDefined();
      const newId = idOf(newCookie!);
      expect(newId).not.toBe(oldId);
      expect(await renewalsCounted(apps.map(({ registry }) => registry))).toBe(1);

      const onAnother = new Visitor(urls[2]);
      onAnother.cookie = newCookie;
      const whole = (await onAnother.get('/whole')).body;
      expect([...whole.items].sort()).toEqual(['a', 'b', ...Array.from({ length: 30 }, (_, i) => `burst-${i}`), ...[1, 3, 5].map((i) => `held-${i}`)].sort());
      expect(whole).toMatchObject({ note0: 0, note2: 2, note4: 4, user: { id: 'renew-user' } });

      // The user index names the new session only; the old key is a bare pointer on its way out.
      const sessions = (await onAnother.get('/sessions')).body;
      expect(sessions).toHaveLength(1);
      expect(sessions[0].current).toBe(true);
      const members = await topology.admin.zrange(userIndexRedisKey(prefix, 'renew-user'), '0', '-1');
      expect(members).toEqual([digestOf(newId)]);
      expect(await topology.admin.hkeys(sessionRedisKey(prefix, oldId))).toEqual([FIELD.successor]);
      const ttls = await keysAndTtls(prefix);
      expect(ttls.get(sessionRedisKey(prefix, oldId))).toBeLessThanOrEqual(30_000);
      expect([...ttls].filter(([, ttl]) => ttl === -1)).toEqual([]);
    });

    it('replicas renewing the same session at the same moment agree on one successor', async () => {
      const { prefix, apps } = await replicas(3, { interval: 60_000, grace: 30_000 });
      const visitor = new Visitor(apps[0].app.url);
      await visitor.post('/login', { id: 'race-user' });
      await visitor.post('/items', { item: 'kept' });
      const oldId = idOf(visitor.cookie!);

      // Every claim is on the wire before any answer comes back: they meet in Redis, one after another.
      const renewals = apps.flatMap(({ app }) => {
        // The renewal step alone (private: a request reaches it only through `load` once the ID is due).
        const renewal = new SessionRenewal(app.app.get(SessionCore));
        return [renewal['renew'](oldId), renewal['renew'](oldId)];
      });
      const successors = await Promise.all(renewals);
      expect(new Set(successors).size).toBe(1);
      const [successor] = successors;
      expect(successor).toEqual(expect.any(String));
      expect(successor).not.toBe(oldId);
      expect(await renewalsCounted(apps.map(({ registry }) => registry))).toBe(1);

      const res = await new Visitor(apps[1].app.url).request('GET', '/whole', { headers: { cookie: visitor.cookie! } });
      expect(idOf(cookieSet(res)!)).toBe(successor);
      expect(res.body.items).toEqual(['kept']);
      expect(await topology.admin.zrange(userIndexRedisKey(prefix, 'race-user'), '0', '-1')).toEqual([digestOf(successor!)]);
    });

    it('a read-only request still running when another renews its session answers with the new persistent cookie, not the old', async () => {
      const grace = 300;
      const { apps } = await replicas(2, { interval: 2 * grace, grace }, { idleTimeout: 60_000, cookie: { persistent: true } });
      const [a, b] = apps.map(({ app }) => app.url);
      const visitor = new Visitor(a);
      await visitor.post('/login', { id: 'slow-reader' });
      const oldCookie = visitor.cookie!;

      closeGate();
      const slow = new Visitor(a).request('GET', '/held-peek', { headers: { cookie: oldCookie } });
      await pollUntil('the slow request to load its session', () => Promise.resolve(held.entered === 1 ? true : undefined));
      const renewed = await pollUntil('a renewal on the other replica', async () => {
        const res = await new Visitor(b).request('GET', '/me', { headers: { cookie: oldCookie } });
        return cookieSet(res) !== oldCookie ? res : undefined;
      });
      held.release();
      const late = await slow;
      expect(late.status).toBe(200);
      expect(cookieSet(late)).toBe(cookieSet(renewed)); // a persistent cookie is set on every response: the new one
    });

    it('a renewal left half-way (its replica died right after the claim) is finished by the next request', async () => {
      const { prefix, apps } = await replicas(2, { interval: 60_000, grace: 30_000 });
      const [a, b] = apps.map(({ app }) => app);
      const visitor = new Visitor(a.url);
      await visitor.post('/login', { id: 'half-way-user' });
      await visitor.post('/items', { item: 'kept' });
      const oldCookie = visitor.cookie!;
      const oldId = idOf(oldCookie);
      const successor = newSessionId();
      const { gateway } = a.app.get(SessionCore);
      expect((await gateway.claimRenewal(sessionRedisKey(prefix, oldId), sealSuccessor(successor, oldId))).status).toBe('claimed');
      // A slide of the claimed key (a request that read it before the claim) leaves it alone: its fields are final.
      const claimedExpiry = await topology.admin.call('PEXPIRETIME', sessionRedisKey(prefix, oldId));
      const slide = {
        redisKey: sessionRedisKey(prefix, oldId),
        expiresAt: Date.now() + 3_600_000,
        now: Date.now(),
        absoluteTimeout: 0,
        lastSeenAt: Date.now(),
      };
      expect(await gateway.touchSession(slide)).toEqual({ status: 'moved' });
      expect(await topology.admin.call('PEXPIRETIME', sessionRedisKey(prefix, oldId))).toBe(claimedExpiry);

      const res = await new Visitor(b.url).request('POST', '/items', { body: { item: 'after' }, headers: { cookie: oldCookie } });
      expect(res.status).toBe(200);
      expect(idOf(cookieSet(res)!)).toBe(successor);
      expect((await new Visitor(b.url).request('GET', '/whole', { headers: { cookie: cookieSet(res)! } })).body).toMatchObject({
        items: ['kept', 'after'],
        user: { id: 'half-way-user' },
      });
      const oldKey = sessionRedisKey(prefix, oldId);
      expect(await topology.admin.hkeys(oldKey)).toEqual([FIELD.successor]);
      expect(await topology.admin.pttl(oldKey)).toBeGreaterThan(0);
      expect(await topology.admin.pttl(oldKey)).toBeLessThanOrEqual(30_000);
      expect(await topology.admin.zrange(userIndexRedisKey(prefix, 'half-way-user'), '0', '-1')).toEqual([digestOf(successor)]);
      // The successor's expiry field is its PEXPIREAT, and the user's index outlives it.
      const newKey = sessionRedisKey(prefix, successor);
      const newExpiry = Number(await topology.admin.call('PEXPIRETIME', newKey));
      expect(Number(await topology.admin.hget(newKey, FIELD.expiresAt))).toBe(newExpiry);
      expect(Number(await topology.admin.call('PEXPIRETIME', userIndexRedisKey(prefix, 'half-way-user')))).toBeGreaterThanOrEqual(newExpiry);
    });

    it('leads the old ID to the new one during the grace window, then treats it as anonymous', async () => {
      const grace = 300;
      const { prefix, apps } = await replicas(2, { interval: 2 * grace, grace });
      const [a, b] = apps.map(({ app }) => app.url);
      const visitor = new Visitor(a);
      await visitor.post('/login', { id: 'grace-user' });
      const oldCookie = visitor.cookie!;

      // The interval passes on its own: a request then gets a new cookie, and the session keeps its user.
      const renewed = await pollUntil('a renewal', async () => {
        const res = await new Visitor(b).request('GET', '/me', { headers: { cookie: oldCookie } });
        expect(res.status).toBe(200);
        return cookieSet(res) !== undefined && cookieSet(res) !== oldCookie ? res : undefined;
      });
      expect(renewed.body).toEqual({ user: { id: 'grace-user', name: 'grace-user' } });
      const newCookie = cookieSet(renewed)!;

      // Once the pointer has expired, the old cookie is anonymous on every replica; the new one works.
      const oldKey = sessionRedisKey(prefix, idOf(oldCookie));
      await pollUntil('the old key to expire', async () => ((await topology.admin.exists(oldKey)) === 0 ? true : undefined));
      for (const url of [a, b]) {
        expect((await new Visitor(url).request('GET', '/me', { headers: { cookie: oldCookie } })).status).toBe(401);
      }
      expect((await new Visitor(b).request('GET', '/me', { headers: { cookie: newCookie } })).status).toBe(200);
      expect([...(await keysAndTtls(prefix))].filter(([, ttl]) => ttl === -1)).toEqual([]);
    });

    it.each([
      ['the old cookie', true],
      ['the new cookie', false],
    ])('a logout with %s during the grace window ends both IDs', async (_label, withOld) => {
      const interval = 60_000;
      const { prefix, apps } = await replicas(2, { interval, grace: 30_000 });
      const [a, b] = apps.map(({ app }) => app.url);
      const visitor = new Visitor(a);
      await visitor.post('/login', { id: 'logout-user' });
      const oldCookie = visitor.cookie!;
      await makeDue(prefix, oldCookie, interval);
      const renewed = await new Visitor(b).request('GET', '/me', { headers: { cookie: oldCookie } });
      const newCookie = cookieSet(renewed)!;
      expect(idOf(newCookie)).not.toBe(idOf(oldCookie));
      // The old key (now a pointer to the successor) is no session of its own: the store counts one.
      const store = apps[0].app.app.get(RedisSessionStore);
      expect(await store.ids()).toEqual([digestOf(idOf(newCookie))]);
      expect(await store.length()).toBe(1);

      expect((await new Visitor(a).request('POST', '/logout', { headers: { cookie: withOld ? oldCookie : newCookie } })).status).toBe(204);
      for (const cookie of [oldCookie, newCookie]) {
        expect((await new Visitor(b).request('GET', '/me', { headers: { cookie } })).status).toBe(401);
      }
      expect((await topology.admin.hkeys(sessionRedisKey(prefix, idOf(newCookie)))).sort()).toEqual([FIELD.ended, FIELD.expiresAt].sort());
      await expectOnlyTombstones(prefix, 30_000);
      // Tombstones and pointers live on for the grace, but list and count as nothing.
      expect(await store.ids()).toEqual([]);
      expect(await store.length()).toBe(0);
      expect(await store.all()).toEqual({});
    });

    it('a logout that loaded the session just before its renewal ends the successor too', async () => {
      const interval = 60_000;
      const { prefix, apps } = await replicas(2, { interval, grace: 30_000 });
      const [a, b] = apps.map(({ app }) => app.url);
      const visitor = new Visitor(a);
      await visitor.post('/login', { id: 'late-logout-user' });
      const oldCookie = visitor.cookie!;

      closeGate();
      const logout = new Visitor(a).request('POST', '/held-logout', { headers: { cookie: oldCookie } });
      await pollUntil('the logout to load its session', () => Promise.resolve(held.entered === 1 ? true : undefined));
      await makeDue(prefix, oldCookie, interval);
      const newCookie = cookieSet(await new Visitor(b).request('GET', '/me', { headers: { cookie: oldCookie } }))!;
      expect(idOf(newCookie)).not.toBe(idOf(oldCookie));
      held.release();
      expect((await logout).status).toBe(204);

      for (const cookie of [oldCookie, newCookie]) {
        expect((await new Visitor(b).request('GET', '/me', { headers: { cookie } })).status).toBe(401);
      }
      await expectOnlyTombstones(prefix, 30_000);
    });

    it('a request that read the claimed old key before its retire cannot bring back a session logged out with the new ID', async () => {
      const interval = 60_000;
      const grace = 30_000;
      const { prefix, apps } = await replicas(2, { interval, grace });
      const [a, b] = apps.map(({ app }) => app);
      const visitor = new Visitor(a.url);
      await visitor.post('/login', { id: 'tombstone-user' });
      await visitor.post('/items', { item: 'kept' });
      const oldCookie = visitor.cookie!;
      const oldId = idOf(oldCookie);
      const oldKey = sessionRedisKey(prefix, oldId);
      const late = a.app.get(SessionCore);

      // The interleaving, step by step: a renewal claims the old key; a request reads it (claimed,
      // not retired yet) and stalls before its plant; another request finishes the renewal and the
      // user logs out with the new ID; then the stalled request plants what it read.
      const successor = newSessionId();
      expect((await late.gateway.claimRenewal(oldKey, sealSuccessor(successor, oldId))).status).toBe('claimed');
      const readBeforeRetire = await late.gateway.readSession(oldKey);
      expect(readBeforeRetire).toMatchObject({ [FIELD.successor]: expect.any(String), items: expect.any(String) });
      const renewed = await new Visitor(b.url).request('GET', '/whole', { headers: { cookie: oldCookie } });
      const newCookie = cookieSet(renewed)!;
      expect(idOf(newCookie)).toBe(successor);
      expect((await new Visitor(b.url).request('POST', '/logout', { headers: { cookie: newCookie } })).status).toBe(204);

      expect(await late.forwarding.successorFrom(oldId, readBeforeRetire as Record<string, string>)).toBeUndefined();
      for (const cookie of [oldCookie, newCookie]) {
        for (const { app } of apps) expect((await new Visitor(app.url).request('GET', '/me', { headers: { cookie } })).status).toBe(401);
      }
      expect(await topology.admin.zrange(userIndexRedisKey(prefix, 'tombstone-user'), '0', '-1')).toEqual([]);
      await expectOnlyTombstones(prefix, grace);
    });

    it('a header client hears of a renewal in the ID header, on the way in and after a save that met it, and gets no cookie', async () => {
      const interval = 60_000;
      const { prefix, apps } = await replicas(2, { interval, grace: 30_000 }, { idFrom: {} });
      const [a, b] = apps.map(({ app }) => app.url);
      const client = new TokenClient(a);
      await client.post('/login', { id: 'header-user' });
      const oldToken = client.token!;
      const oldId = idOf(`sid=${oldToken}`);

      closeGate();
      const slow = new TokenClient(a).post('/held-set', { key: 'late', value: 1 }, { 'X-Session-Token': oldToken });
      await pollUntil('the slow request to load its session', () => Promise.resolve(held.entered === 1 ? true : undefined));
      await topology.admin.hset(sessionRedisKey(prefix, oldId), FIELD.issuedAt, String(Date.now() - interval - 1_000));
      const renewed = await new TokenClient(b).get('/me', { 'X-Session-Token': oldToken });
      expect(renewed.status).toBe(200);
      expect(renewed.token).toEqual(expect.any(String));
      const newId = idOf(`sid=${renewed.token!}`);
      expect(newId).not.toBe(oldId);
      held.release();
      const late = await slow;
      expect(late.status).toBe(200);
      expect(late.token).toBe(renewed.token); // its save went to the successor: it announces the new ID too
      expect([renewed.setCookie, late.setCookie]).toEqual([null, null]);
      const whole = await new TokenClient(b).get('/whole', { 'X-Session-Token': renewed.token! });
      expect(whole.body).toMatchObject({ late: 1, user: { id: 'header-user' } });
    });
  });
});

/** Redis never sees an ID that works as a cookie, the old or the new one, through a whole renewal. */
describe('session ID renewal and what Redis sees', () => {
  it('with encryption on, the successor opens under its own key and no value or ID travels in clear', async () => {
    const redis = await startRedis();
    const admin = new Redis(redis.url);
    const seen: string[][] = [];
    const monitor = await openMonitor(redis.url, (_time, args) => seen.push(args));
    const interval = 60_000;
    const prefix = uniquePrefix('renewal-sealed');
    const app = await startSessionApp({
      redis: redis.url,
      prefix,
      renewal: { interval, grace: 30_000 },
      encryption: { keys: [randomBytes(32).toString('base64')] },
    });
    try {
      const visitor = new Visitor(app.url);
      await visitor.post('/login', { id: 'sealed-user-7f3a', name: 'Sealed Name 7f3a' });
      await visitor.post('/items', { item: 'teapot-7f3a' });
      const oldCookie = visitor.cookie!;
      await admin.hset(sessionRedisKey(prefix, idOf(oldCookie)), FIELD.issuedAt, String(Date.now() - interval - 1_000));
      const renewed = await new Visitor(app.url).request('POST', '/items', { body: { item: 'kettle-7f3a' }, headers: { cookie: oldCookie } });
      expect(renewed.status).toBe(200);
      const newCookie = cookieSet(renewed)!;
      expect(idOf(newCookie)).not.toBe(idOf(oldCookie));

      // Every value was re-sealed for the new key (a verbatim copy would not open there: the key is bound in).
      const onNew = await new Visitor(app.url).request('GET', '/whole', { headers: { cookie: newCookie } });
      expect(onNew.body).toMatchObject({ items: ['teapot-7f3a', 'kettle-7f3a'], user: { id: 'sealed-user-7f3a', name: 'Sealed Name 7f3a' } });
      expect((await new Visitor(app.url).request('GET', '/me', { headers: { cookie: oldCookie } })).status).toBe(200); // the grace window

      await pollUntil('MONITOR to show the last read', () =>
        Promise.resolve(seen.filter((args) => args[0].toUpperCase() === 'HGETALL').length >= 4 || undefined),
      );
      // The user's id is left out: it names the user's index key, by design, with or without encryption.
      const secrets = ['teapot-7f3a', 'kettle-7f3a', 'Sealed Name 7f3a', idOf(oldCookie), idOf(newCookie)];
      expect(seen.filter((args) => args.some((arg) => secrets.some((secret) => arg.includes(secret))))).toEqual([]);
    } finally {
      monitor.disconnect();
      admin.disconnect();
      await app.close();
      await redis.stop();
    }
  });

  it('sends no raw session ID in any command: the successor travels sealed', async () => {
    const redis = await startRedis();
    const admin = new Redis(redis.url);
    const seen: string[][] = [];
    const monitor = await openMonitor(redis.url, (_time, args) => seen.push(args));
    const interval = 60_000;
    const prefix = uniquePrefix('renewal-monitor');
    const app = await startSessionApp({ redis: redis.url, prefix, renewal: { interval, grace: 30_000 } });
    try {
      const visitor = new Visitor(app.url);
      await visitor.post('/login', { id: 'monitored-user' });
      const oldCookie = visitor.cookie!;
      await admin.hset(sessionRedisKey(prefix, idOf(oldCookie)), FIELD.issuedAt, String(Date.now() - interval - 1_000));
      const renewed = await new Visitor(app.url).request('POST', '/items', { body: { item: 'x' }, headers: { cookie: oldCookie } });
      const newCookie = cookieSet(renewed)!;
      expect(idOf(newCookie)).not.toBe(idOf(oldCookie));
      expect((await new Visitor(app.url).request('POST', '/set/k', { body: { value: 1 }, headers: { cookie: oldCookie } })).status).toBe(200);
      expect((await new Visitor(app.url).request('POST', '/logout', { headers: { cookie: oldCookie } })).status).toBe(204);

      // MONITOR delivers asynchronously: wait until it has shown the logout's DEL of the new key.
      const newKey = sessionRedisKey(prefix, idOf(newCookie));
      await pollUntil('the logout in MONITOR', () => Promise.resolve(seen.some((args) => args[0].toUpperCase() === 'DEL' && args[1] === newKey) || undefined));
      const raw = [idOf(oldCookie), idOf(newCookie)];
      expect(seen.filter((args) => args.some((arg) => raw.some((id) => arg.includes(id))))).toEqual([]);
    } finally {
      monitor.disconnect();
      admin.disconnect();
      await app.close();
      await redis.stop();
    }
  });
});
