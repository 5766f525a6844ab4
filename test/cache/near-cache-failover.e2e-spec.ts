import { startFailoverCluster, startFailoverSentinel, waitUntilMaster, type FailoverCluster, type FailoverSentinel } from '../support/failover-topologies';
import { uniquePrefix } from '../support/prefix';
import { waitUntil } from '../support/probe';
import { topologyAvailable } from '../support/topologies';
import { startReplicas, type RunningApp } from '../session/support/session-app';
import { Visitor } from '../session/support/http-client';
import { through, untilServing, warmOn } from './support/near-cache-apps';

/**
 * Issue 10, §2: a failover moves the sessions to another server, which knows nothing of the old
 * master's tracking. Each replica's cache must drop what it holds and stay bypassed until tracking is
 * armed on the new master(s); at no point may a replica serve a value older than a change that has
 * answered.
 */
const available = topologyAvailable();
const options = { nearCache: { maxEntryAge: 3_600_000 }, redisDeadline: 1_000 };

/** Sets `color` through `app`, retrying while the topology settles (503s are the library's answer meanwhile). */
async function setColor(visitor: Visitor, value: string): Promise<void> {
  await waitUntil(`the change to ${value} to be accepted`, async () => (await visitor.post('/set/color', { value })).status === 200, { timeoutMs: 30_000 });
}

async function colorOn(app: RunningApp, cookie: string | undefined): Promise<unknown> {
  const res = await through(app, cookie).get('/whole');
  expect(res.status).toBe(200);
  return res.body.color;
}

(available.sentinel ? describe : describe.skip)('near cache across a Sentinel failover', () => {
  let setup: FailoverSentinel;
  let apps: RunningApp[];

  beforeAll(async () => {
    setup = await startFailoverSentinel({ downAfterMs: 1_000 });
    apps = await startReplicas(2, { redis: { sentinels: setup.sentinels, name: setup.name }, prefix: uniquePrefix('near-sentinel'), ...options });
    await untilServing(apps);
  }, 90_000);

  afterAll(async () => {
    await Promise.all((apps ?? []).map((app) => app.close()));
    await setup?.stop();
  });

  it('shows every change made after the failover, then caches again on the new master', async () => {
    const [a, b] = apps;
    const user = new Visitor(a.url);
    await user.post('/login', { id: 'sentinel-user' });
    await setColor(user, 'red');
    await warmOn([b], user.cookie);

    const old = (await setup.currentMaster()).port;
    await setup.failover();
    await waitUntil('the sentinel to promote the replica', async () => (await setup.currentMaster()).port !== old, { timeoutMs: 30_000 });
    await setColor(user, 'blue');
    await waitUntil('replica B to answer again', async () => (await through(b, user.cookie).get('/whole')).status === 200, { timeoutMs: 30_000 });
    expect(await colorOn(b, user.cookie)).toBe('blue');

    await untilServing(apps, 30_000);
    await warmOn([b], user.cookie);
    await setColor(user, 'green');
    expect(await colorOn(b, user.cookie)).toBe('green');
  }, 90_000);
});

(available.cluster ? describe : describe.skip)('near cache across a Cluster master failover', () => {
  let cluster: FailoverCluster;
  let apps: RunningApp[];

  beforeAll(async () => {
    cluster = await startFailoverCluster({ nodeTimeoutMs: 1_000 });
    apps = await startReplicas(2, { redis: { cluster: cluster.nodes }, prefix: uniquePrefix('near-cluster'), ...options });
    await untilServing(apps);
  }, 90_000);

  afterAll(async () => {
    await Promise.all((apps ?? []).map((app) => app.close()));
    await cluster?.stop();
  });

  it('tracks every master, and shows every change made after a master is killed and replaced', async () => {
    const [a, b] = apps;
    // Sessions spread over the slots of all three masters.
    const users = Array.from({ length: 12 }, () => new Visitor(a.url));
    for (const user of users) {
      await user.post('/set/color', { value: 'red' });
      await warmOn([b], user.cookie);
    }
    // Every master's invalidations reach B: a change on any slot shows on B's very next read.
    for (const user of users) {
      await setColor(user, 'orange');
      expect(await colorOn(b, user.cookie)).toBe('orange');
      await warmOn([b], user.cookie);
    }

    const { master, replica } = cluster.shards[0];
    await master.process.kill();
    await waitUntilMaster(replica);
    await cluster.waitHealthy();
    for (const user of users) {
      await setColor(user, 'blue');
      await waitUntil('replica B to answer again', async () => (await through(b, user.cookie).get('/whole')).status === 200, { timeoutMs: 30_000 });
      expect(await colorOn(b, user.cookie)).toBe('blue');
    }

    await untilServing(apps, 30_000);
    for (const user of users) {
      await warmOn([b], user.cookie);
      await setColor(user, 'green');
      expect(await colorOn(b, user.cookie)).toBe('green');
    }
  }, 120_000);
});
