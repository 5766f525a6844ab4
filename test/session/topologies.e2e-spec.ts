import type { Cluster, Redis } from 'ioredis';
import { SESSION_REDIS, type SessionRedisOption } from '@app/session';
import { keysWithoutTtl } from './support/expectations';
import { startCluster, startSentinelSetup, topologyAvailable } from '../support/topologies';
import { startRedis } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { startReplicas, type RunningApp } from './support/session-app';
import { Visitor } from './support/http-client';

type Topology = { redis: SessionRedisOption; stop(): Promise<void> };

const available = topologyAvailable();
const unless = (ok: boolean) => (ok ? describe : describe.skip);

/** The whole module, replicas included, on each Redis topology it supports. */
describe.each<[string, boolean, () => Promise<Topology>]>([
  [
    'standalone',
    true,
    async () => {
      const redis = await startRedis();
      return { redis: redis.url, stop: () => redis.stop() };
    },
  ],
  [
    `Sentinel${available.sentinel ? '' : ` (skipped: ${available.reason})`}`,
    available.sentinel,
    async () => {
      const setup = await startSentinelSetup();
      return { redis: { sentinels: setup.sentinels, name: setup.name }, stop: () => setup.stop() };
    },
  ],
  [
    `Cluster${available.cluster ? '' : ` (skipped: ${available.reason})`}`,
    available.cluster,
    async () => {
      const cluster = await startCluster();
      return { redis: { cluster: cluster.nodes }, stop: () => cluster.stop() };
    },
  ],
])('SessionModule on %s Redis', (_name, ok, start) => {
  unless(ok)('', () => {
    let topology: Topology;
    let replicas: RunningApp[];

    beforeAll(async () => {
      topology = await start();
      replicas = await startReplicas(2, { redis: topology.redis, prefix: uniquePrefix('topology') });
    });

    afterAll(async () => {
      await Promise.all((replicas ?? []).map((replica) => replica.close()));
      await topology?.stop();
    });

    it('logs in on one replica, updates and lists on the other, logs out everywhere', async () => {
      const [a, b] = replicas;
      const phone = new Visitor(a.url);
      await phone.post('/inc');
      await phone.post('/login', { id: 'topology-user' });
      const laptop = new Visitor(b.url);
      await laptop.post('/login', { id: 'topology-user' });

      const onB = new Visitor(b.url);
      onB.cookie = phone.cookie;
      expect((await onB.get('/me')).status).toBe(200);
      expect((await onB.get('/peek')).body).toEqual({ views: 1 }); // the cart-like data survived login
      const adds = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          new Visitor([a, b][i % 2].url).request('POST', '/items', {
            body: { item: `i${i}` },
            headers: { cookie: phone.cookie! },
          }),
        ),
      );
      expect(adds.map((r) => r.status)).toEqual(Array(20).fill(200));
      expect((await onB.get('/whole')).body.items).toHaveLength(20);

      expect((await laptop.get('/sessions')).body).toHaveLength(2);
      await phone.post('/regenerate'); // a new ID stays in the index (issue 12): log out everywhere reaches it
      onB.cookie = phone.cookie;
      expect((await laptop.get('/sessions')).body).toHaveLength(2);
      expect((await laptop.post('/logout-all', {})).body).toEqual({ deleted: 2 });
      expect((await onB.get('/me')).status).toBe(401);
      expect((await new Visitor(a.url).request('GET', '/me', { headers: { cookie: laptop.cookie! } })).status).toBe(401);
    });

    it('without an absolute timeout, leaves no key without a TTL through logins, slides and saves', async () => {
      const prefix = uniquePrefix('topology-forever');
      const [a, b] = await startReplicas(2, { redis: topology.redis, prefix, absoluteTimeout: false, touchAfter: 0 });
      try {
        const phone = new Visitor(a.url);
        expect((await phone.post('/login', { id: 'forever-user' })).status).toBe(200);
        const laptop = new Visitor(b.url);
        expect((await laptop.post('/login', { id: 'forever-user' })).status).toBe(200);
        expect((await phone.get('/me')).status).toBe(200); // a slide (touchAfter 0)
        expect((await laptop.post('/inc')).status).toBe(200); // a save
        expect(await keysWithoutTtl(a.app.get<Redis | Cluster>(SESSION_REDIS), prefix)).toEqual([]);
        expect((await laptop.post('/logout-all', {})).body).toEqual({ deleted: 2 });
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });
  });
});
