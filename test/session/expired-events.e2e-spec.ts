import Redis, { Cluster } from 'ioredis';
import { SessionEvents } from '@app/session';
import { ExpiredKeyListener } from '@app/session/events/expired-key-listener';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { startCluster, startSentinelSetup, topologyAvailable, type Address, type SentinelSetup } from '../support/topologies';
import { uniquePrefix } from '../support/prefix';
import { waitUntil } from '../support/probe';
import { startSessionApp, type RunningApp } from './support/session-app';
import { Visitor } from './support/http-client';
import { digestOfCookie, EventLog } from './support/event-log';
import { describeExpiryDelays, summarizeExpiryDelays } from './support/expiry-delay';

const IDLE_TIMEOUT = 1_000; // ms: short, so Redis expires the keys while the test waits

/** Creates `count` sessions on `app`; answers their digests. */
async function createSessions(app: RunningApp, count: number): Promise<string[]> {
  const digests: string[] = [];
  for (let i = 0; i < count; i++) {
    const visitor = new Visitor(app.url);
    await visitor.post('/set/note', { value: i });
    digests.push(digestOfCookie(visitor.cookie!));
  }
  return digests;
}

/** When each session's key is due to expire (PEXPIRETIME, ms since the epoch), read right after its creation. */
async function expiryTimes(client: Redis | Cluster, prefix: string, digests: string[]): Promise<Map<string, number>> {
  const times = await Promise.all(digests.map((digest) => client.call('PEXPIRETIME', prefix + digest) as Promise<number>));
  return new Map(digests.map((digest, i) => [digest, Number(times[i])]));
}

/** Waits for an `expired` event of every digest (polling: no timing assumption), then reports how late they came. */
async function awaitExpiries(log: EventLog, due: Map<string, number>, label: string): Promise<void> {
  const expiredAt = () => new Map(log.events.filter((event) => event.type === 'expired').map((event) => [event.digest, event.at]));
  await waitUntil(`expired events of ${due.size} sessions (${label})`, () => Promise.resolve([...due.keys()].every((digest) => expiredAt().has(digest))), {
    timeoutMs: 30_000,
  });
  const delays = [...due].map(([digest, at]) => expiredAt().get(digest)! - at);
  console.log(describeExpiryDelays(label, summarizeExpiryDelays(delays)));
}

describe('expired events from Redis keyspace notifications (standalone)', () => {
  let redis: RedisServerHandle;
  let admin: Redis;
  const running: RunningApp[] = [];

  beforeAll(async () => {
    redis = await startRedis({ controllable: true }); // a Redis of this file's own: its notify-keyspace-events is changed
    admin = new Redis(redis.url);
  });

  afterAll(async () => {
    await Promise.all(running.map((app) => app.close()));
    admin?.disconnect();
    await redis?.stop();
  });

  it('says at boot that Redis sends no expired notifications, and turns them on only when asked', async () => {
    await admin.config('SET', 'notify-keyspace-events', '');
    const warnings: string[] = [];
    const logger = { warn: (message: string) => warnings.push(message), log: () => undefined };
    const listen = async (enable: boolean) => {
      const listener = new ExpiredKeyListener(admin, 'sess:', new SessionEvents('r'), enable, logger);
      await listener.start();
      await listener.close();
    };
    await listen(false);
    expect(warnings).toEqual([expect.stringMatching(/sends no expired notifications .*notify-keyspace-events is ""/)]);
    expect((await admin.config('GET', 'notify-keyspace-events'))[1]).toBe('');
    await listen(true);
    expect((await admin.config('GET', 'notify-keyspace-events'))[1]).toMatch(/^(?=.*E)(?=.*x)/);
    expect(warnings).toHaveLength(1);
  });

  it('tells every idle session that Redis expired, by digest, and nothing else under the prefix', async () => {
    const prefix = uniquePrefix('expired');
    const app = await startSessionApp({
      redis: redis.url,
      prefix,
      idleTimeout: IDLE_TIMEOUT,
      events: { expired: 'configure', replica: 'r-exp' },
    });
    running.push(app);
    const log = new EventLog(app.app);
    const digests = await createSessions(app, 10);
    const due = await expiryTimes(admin, prefix, digests);
    // Keys that are not sessions: a user index under the prefix, and a session-like key of another prefix.
    await admin.set(`${prefix}user:someone`, 'x', 'PX', 50);
    await admin.set(`t:other-app:${digests[0]}`, 'x', 'PX', 50);

    await awaitExpiries(log, due, 'standalone');
    const expired = log.events.filter((event) => event.type === 'expired');
    expect(expired.map((event) => event.digest).sort()).toEqual([...digests].sort());
    for (const event of expired) expect(Object.keys(event).sort()).toEqual(['at', 'digest', 'replica', 'type']);
    expect(expired[0].replica).toBe('r-exp');
  });
});

const available = topologyAvailable();
const describeCluster = available.cluster ? describe : describe.skip;

describeCluster(`expired and cross-replica events on Redis Cluster${available.cluster ? '' : ` (skipped: ${available.reason})`}`, () => {
  let cluster: { nodes: Address[]; stop(): Promise<void> };
  let admin: Cluster;
  const running: RunningApp[] = [];

  beforeAll(async () => {
    cluster = await startCluster();
    admin = new Cluster(cluster.nodes);
  });

  afterAll(async () => {
    await Promise.all(running.map((app) => app.close()));
    await admin?.quit();
    await cluster?.stop();
  });

  /** The master (`host:port`) that holds each key, from the slot it hashes to. */
  async function mastersOf(keys: string[]): Promise<Set<string>> {
    const slots = await Promise.all(keys.map((key) => admin.cluster('KEYSLOT', key)));
    return new Set(slots.map((slot) => (admin as unknown as { slots: string[][] }).slots[slot][0]));
  }

  it('hears expiries on every master, and relays every other event to every replica once', async () => {
    const prefix = uniquePrefix('cluster-events');
    const options = (replica: string) => ({
      redis: { cluster: cluster.nodes },
      prefix,
      idleTimeout: IDLE_TIMEOUT,
      events: { crossReplica: true, expired: 'configure' as const, replica },
    });
    const a = await startSessionApp(options('c1'));
    running.push(a);
    const b = await startSessionApp(options('c2'));
    running.push(b);
    const logs = [new EventLog(a.app), new EventLog(b.app)];

    // Sessions until each of the three masters holds some: digests fall in random slots.
    const digests: string[] = [];
    let due = new Map<string, number>();
    while (digests.length < 60) {
      const more = await createSessions(a, 3);
      digests.push(...more);
      due = new Map([...due, ...(await expiryTimes(admin, prefix, more))]);
      if ((await mastersOf(digests.map((digest) => prefix + digest))).size === cluster.nodes.length) break;
    }
    expect((await mastersOf(digests.map((digest) => prefix + digest))).size).toBe(3);
    for (const [i, log] of logs.entries()) await awaitExpiries(log, due, `cluster, replica c${i + 1}`);

    for (const log of logs) {
      const count = (type: string) => (digest: string) => log.events.filter((event) => event.type === type && event.digest === digest).length;
      // Each replica hears Redis itself: one expired event per session, never a relayed second one.
      expect(digests.map(count('expired'))).toEqual(digests.map(() => 1));
      // The creations happened on c1: c2 has them over the channel, once each.
      expect(digests.map(count('created'))).toEqual(digests.map(() => 1));
      expect(new Set(log.events.filter((event) => event.type === 'created').map((event) => event.replica))).toEqual(new Set(['c1']));
    }
  });
});

const describeSentinel = available.sentinel ? describe : describe.skip;

describeSentinel(`expired events behind Sentinel${available.sentinel ? '' : ` (skipped: ${available.reason})`}`, () => {
  let setup: SentinelSetup;
  let client: Redis;

  beforeAll(async () => {
    setup = await startSentinelSetup();
    client = new Redis({ sentinels: setup.sentinels, name: setup.name });
  });

  afterAll(async () => {
    client?.disconnect();
    await setup?.stop();
  });

  // A Sentinel client's own options hold only defaults (localhost:6379): the log names the master reached.
  it("names the master it configured, not the client's default address", async () => {
    await client.config('SET', 'notify-keyspace-events', '');
    const logs: string[] = [];
    const logger = { warn: (message: string) => logs.push(message), log: (message: string) => logs.push(message) };
    const listener = new ExpiredKeyListener(client, 'sess:', new SessionEvents('s'), true, logger);
    await listener.start();
    await listener.close();
    expect(logs).toEqual([expect.stringContaining(`Set notify-keyspace-events to "Ex" on ${setup.master.host}:${setup.master.port}`)]);
  });
});
