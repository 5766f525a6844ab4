import { startFailoverSentinel, type FailoverSentinel } from '../support/failover-topologies';
import { uniquePrefix } from '../support/prefix';
import { LOCALHOST } from '../support/ports';
import { ask, waitUntil } from '../support/probe';
import { topologyAvailable } from '../support/topologies';
import { startSessionApp, type RunningApp } from './support/session-app';
import { Visitor } from './support/http-client';
import { digestOfCookie, EventLog } from './support/event-log';

const IDLE_TIMEOUT = 1_000; // ms: short, so Redis expires the sessions while the test waits

/**
 * Issue 10, §3 on Sentinel: the cross-replica relay and the expiry listener hold connections of their
 * own to the master the sentinel names. After a failover (the master demoted, then the new one
 * killed) both must subscribe on the master of the moment, so every replica keeps hearing the others'
 * events and Redis's expiries, once each. Polls only: no timing is asserted.
 */
const available = topologyAvailable();

(available.sentinel ? describe : describe.skip)(`session events on Sentinel${available.sentinel ? '' : ` (skipped: ${available.reason})`}`, () => {
  let setup: FailoverSentinel;
  const running: RunningApp[] = [];
  let logs: EventLog[];
  let prefix: string;

  beforeAll(async () => {
    setup = await startFailoverSentinel({ downAfterMs: 1_000 });
    prefix = uniquePrefix('sentinel-events');
    for (const replica of ['s1', 's2']) {
      running.push(
        await startSessionApp({
          redis: { sentinels: setup.sentinels, name: setup.name },
          prefix,
          idleTimeout: IDLE_TIMEOUT,
          redisDeadline: 1_000,
          events: { crossReplica: true, expired: 'configure', replica },
        }),
      );
    }
    logs = running.map((app) => new EventLog(app.app));
  }, 60_000);

  afterAll(async () => {
    logs?.forEach((log) => log.stop());
    await Promise.all(running.map((app) => app.close()));
    await setup?.stop();
  });

  /** A new session on `app`, retried while the setup settles (503 meanwhile); answers its digest. */
  async function createOn(app: RunningApp): Promise<string> {
    let cookie: string | undefined;
    await waitUntil(
      `a session to be created on ${app.url}`,
      async () => {
        const visitor = new Visitor(app.url);
        const ok = (await visitor.post('/set/note', { value: 'x' })).status === 200;
        cookie = visitor.cookie;
        return ok;
      },
      { timeoutMs: 30_000 },
    );
    return digestOfCookie(cookie!);
  }

  /**
   * Waits until both replicas' subscribers are subscribed on the master the sentinel names now, and
   * that master sends expiry notifications. After a failover each subscriber reconnects on its own
   * retry timer, and an event published before it is subscribed again is lost, as the README says:
   * a session made meanwhile on the replica whose client came back first would go unheard by the
   * other (seen under load: s2's relay subscriber back 40 ms after s1 published its creation). The
   * events that follow must then all arrive; a subscriber that never comes back fails this wait.
   */
  async function subscribedOnTheMaster(label: string): Promise<void> {
    const relayChannel = `${prefix}events`; // the README's `<prefix>events`
    const expiryChannel = '__keyevent@0__:expired';
    await waitUntil(
      `both replicas to subscribe on the master ${label}`,
      async () => {
        const master = await setup.currentMaster();
        const counts = (await ask(master.host, master.port, 'PUBSUB', 'NUMSUB', relayChannel, expiryChannel)) as [string, number, string, number];
        const flags = ((await ask(master.host, master.port, 'CONFIG', 'GET', 'notify-keyspace-events')) as string[])[1];
        if (counts[1] === running.length && counts[3] === running.length && flags.includes('E') && (flags.includes('x') || flags.includes('A'))) return true;
        throw new Error(
          `master ${master.port}: ${counts[1]} relay and ${counts[3]} expiry subscribers of ${running.length}, notify-keyspace-events "${flags}"`,
        );
      },
      { timeoutMs: 30_000 },
    );
  }

  /** One session made on each replica: every replica hears each creation once (its own or relayed), then its expiry once (from Redis). */
  async function expectEveryEventOnEveryReplica(label: string): Promise<void> {
    await subscribedOnTheMaster(label);
    const digests = [await createOn(running[0]), await createOn(running[1])];
    const count = (log: EventLog, type: string, digest: string) => log.events.filter((event) => event.type === type && event.digest === digest).length;
    for (const [i, log] of logs.entries()) {
      await waitUntil(
        `replica s${i + 1} to hear the creations and expiries ${label}`,
        () => Promise.resolve(digests.every((digest) => count(log, 'created', digest) > 0 && count(log, 'expired', digest) > 0)),
        { timeoutMs: 30_000 },
      );
    }
    for (const log of logs) {
      expect(digests.map((digest) => count(log, 'created', digest))).toEqual([1, 1]);
      expect(digests.map((digest) => count(log, 'expired', digest))).toEqual([1, 1]);
      // The creations are s1's and s2's own, whoever hears them.
      expect(digests.map((digest) => log.events.find((event) => event.type === 'created' && event.digest === digest)!.replica)).toEqual(['s1', 's2']);
    }
  }

  /** The sentinel names another master, and the former one, when alive, serves as its replica. */
  async function failedOver(from: number, formerAlive: boolean): Promise<void> {
    await waitUntil('the sentinel to name another master', async () => (await setup.currentMaster()).port !== from, { timeoutMs: 30_000 });
    if (formerAlive)
      await waitUntil(`${from} to serve as a replica`, async () => String(await ask(LOCALHOST, from, 'ROLE')).startsWith('slave'), { timeoutMs: 30_000 });
  }

  it('relays and hears expiries before a failover, after the master is demoted, and after it is killed', async () => {
    await expectEveryEventOnEveryReplica('on the first master');

    const first = (await setup.currentMaster()).port;
    await setup.failover();
    await failedOver(first, true);
    await expectEveryEventOnEveryReplica('after the master was demoted');

    const second = (await setup.currentMaster()).port;
    await setup.servers.find((server) => server.port === second)!.process.kill();
    await failedOver(second, false);
    await expectEveryEventOnEveryReplica('after the master was killed');
  }, 120_000);
});
