import { setTimeout as delay } from 'node:timers/promises';
import { startFailoverCluster, startFailoverSentinel, waitUntilMaster, type FailoverCluster, type FailoverSentinel } from '../support/failover-topologies';
import { freePorts, LOCALHOST } from '../support/ports';
import { ask, waitUntil } from '../support/probe';
import { launchRedisServer, redisServerMissingReason, type RedisProcess } from '../support/processes';
import { makeTempDir, removeTempDir } from '../support/temp-dirs';
import { runCartScenario, type ScenarioResult } from './support/cart-load';
import { buildShop, startShopReplicas, type ShopReplicas } from './support/shop-processes';
import { startStallableProxy, type StallableProxy } from './support/tcp-proxy';

// Issue 12: the real shop (built bundle, three replicas behind the demo's balancer) under a cart load
// while Redis fails. Each scenario asserts: no session lost, no acknowledged (201) addition lost,
// every request answered within the deadlines of its session operations (the shop uses the library's
// redisDeadline of 1 s, which bounds each operation; adding to the cart reads the session and then
// updates it: two) plus MARGIN_MS, and recovery without restarting anything. Figures are printed per
// scenario and as a table at the end.

const REDIS_DEADLINE_MS = 1_000;
const OPERATIONS_PER_REQUEST = 2;
/** Room for what is not Redis: the balancer hop, Nest, JSON, two cores shared by Redis, three replicas and the load. */
const MARGIN_MS = 500;
const BOUND_MS = OPERATIONS_PER_REQUEST * REDIS_DEADLINE_MS + MARGIN_MS;
const FAULT_MS = 3_000;

const results: ScenarioResult[] = [];
const missing = redisServerMissingReason();

function expectSurvived(result: ScenarioResult): void {
  console.log(`${result.scenario}: ${JSON.stringify({ ...result, slow: result.slow.slice(0, 5), slowCount: result.slow.length })}`);
  results.push(result);
  expect({
    sessionsLost: result.sessionsLost,
    acknowledgedLost: result.acknowledgedLost,
    slowerThanBound: result.slow.slice(0, 5),
    recovered: result.recovered,
  }).toEqual({ sessionsLost: 0, acknowledgedLost: 0, slowerThanBound: [], recovered: true });
  expect(result.unacknowledgedApplied).toBeLessThanOrEqual(result.failed);
}

(missing ? describe.skip : describe)('fault suite: the real shop while Redis fails', () => {
  beforeAll(() => buildShop(), 180_000);

  afterAll(() => {
    const rows = results.map((r) =>
      [
        r.scenario,
        r.requests,
        r.failed,
        JSON.stringify(r.statuses),
        r.windowMs,
        r.firstSuccessAfterFailureMs,
        r.maxMs,
        r.slow.length,
        r.sessionsLost,
        r.acknowledgedLost,
        r.recovered,
      ].join(' | '),
    );
    console.log(
      [
        'scenario | requests | failed | statuses | window ms (fault to last failure) | first success after failure ms | slowest ms | answers > bound | sessions lost | acked lost | recovered',
        ...rows,
      ].join('\n'),
    );
  });

  describe('standalone Redis with AOF (appendfsync always), reached through a stallable TCP proxy', () => {
    let dir: string;
    let port: number;
    let redis: RedisProcess;
    let proxy: StallableProxy;
    let shop: ShopReplicas;
    const launch = () => launchRedisServer({ port, dir, args: ['--appendonly', 'yes', '--appendfsync', 'always'] });

    beforeAll(async () => {
      dir = await makeTempDir('faults-aof');
      [port] = await freePorts(1);
      redis = await launch();
      proxy = await startStallableProxy({ host: LOCALHOST, port });
      shop = await startShopReplicas({ REDIS_URL: `redis://${LOCALHOST}:${proxy.port}` });
    }, 120_000);

    afterAll(async () => {
      await shop?.stop();
      await proxy?.close();
      await redis?.stop();
      if (dir) await removeTempDir(dir);
    });

    it('Redis killed (SIGKILL) and restarted from its AOF', async () => {
      const result = await runCartScenario({
        scenario: 'AOF restart',
        url: shop.url,
        boundMs: BOUND_MS,
        fault: async () => {
          await redis.kill();
          await delay(1_000);
        },
        recovered: async () => void (redis = await launch()),
      });
      expectSurvived(result);
    }, 60_000);

    it(`Redis paused (CLIENT PAUSE ${FAULT_MS} ALL)`, async () => {
      const result = await runCartScenario({
        scenario: 'CLIENT PAUSE',
        url: shop.url,
        boundMs: BOUND_MS,
        fault: async () => void (await ask(LOCALHOST, port, 'CLIENT', 'PAUSE', FAULT_MS, 'ALL')),
        recovered: () => delay(FAULT_MS),
      });
      expectSurvived(result);
    }, 60_000);

    it(`network stall: the proxy forwards nothing for ${FAULT_MS} ms`, async () => {
      const result = await runCartScenario({
        scenario: 'network stall',
        url: shop.url,
        boundMs: BOUND_MS,
        fault: () => {
          proxy.stall(FAULT_MS);
          return Promise.resolve();
        },
        recovered: () => delay(FAULT_MS),
      });
      expectSurvived(result);
    }, 60_000);
  });

  describe('Sentinel (master, replica, one sentinel; master down after 1 s)', () => {
    let setup: FailoverSentinel;
    let shop: ShopReplicas;

    beforeAll(async () => {
      setup = await startFailoverSentinel({ downAfterMs: 1_000 });
      const sentinels = setup.sentinels.map((s) => `${s.host}:${s.port}`).join(',');
      shop = await startShopReplicas({ REDIS_SENTINELS: sentinels, REDIS_SENTINEL_NAME: setup.name });
    }, 120_000);

    afterAll(async () => {
      await shop?.stop();
      await setup?.stop();
    });

    const newMaster = async (old: number) =>
      waitUntil('the sentinel to promote the replica', async () => (await setup.currentMaster()).port !== old, { timeoutMs: 30_000 });

    it('SENTINEL FAILOVER under load', async () => {
      const old = (await setup.currentMaster()).port;
      const result = await runCartScenario({
        scenario: 'Sentinel FAILOVER',
        url: shop.url,
        boundMs: BOUND_MS,
        fault: () => setup.failover(),
        recovered: () => newMaster(old),
      });
      expectSurvived(result);
    }, 90_000);

    it('the master killed (SIGKILL) under load', async () => {
      const old = (await setup.currentMaster()).port;
      // The old master of the first scenario must be a synced replica again before this one is killed.
      await waitUntil(
        'the replica to sync',
        async () => String(await ask(LOCALHOST, setup.servers.find((s) => s.port !== old)!.port, 'INFO', 'replication')).includes('master_link_status:up'),
        { timeoutMs: 30_000 },
      );
      const result = await runCartScenario({
        scenario: 'Sentinel master kill',
        url: shop.url,
        boundMs: BOUND_MS,
        fault: () => setup.servers.find((s) => s.port === old)!.process.kill(),
        recovered: () => newMaster(old),
      });
      expectSurvived(result);
    }, 90_000);
  });

  describe('Cluster (three masters, each with a replica; node timeout 1 s)', () => {
    let cluster: FailoverCluster;
    let shop: ShopReplicas;

    beforeAll(async () => {
      cluster = await startFailoverCluster({ nodeTimeoutMs: 1_000 });
      shop = await startShopReplicas({ REDIS_CLUSTER: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',') });
    }, 120_000);

    afterAll(async () => {
      await shop?.stop();
      await cluster?.stop();
    });

    it('a master killed (SIGKILL) under load', async () => {
      const { master, replica } = cluster.shards[0];
      const result = await runCartScenario({
        scenario: 'Cluster master kill',
        url: shop.url,
        boundMs: BOUND_MS,
        fault: () => master.process.kill(),
        recovered: () => waitUntilMaster(replica),
      });
      expectSurvived(result);
    }, 90_000);
  });
});
