import type { Cluster, Redis } from 'ioredis';
import { FakeMaster, fakeCluster, fakeStandalone, refusals, type FakeMasterBehaviour } from '../../../../test/support/fake-tracking-redis';
import { messages } from '../errors/session.messages';
import { InvalidationTracker, type FlushReason, type TrackerTimings } from './invalidation-tracker';
import { keySlot } from './key-slot';

/**
 * When the near cache may trust Redis's invalidations, over a fake Redis that speaks tracking
 * (test/support/fake-tracking-redis.ts), with a fake clock: arming, heartbeats, what flushes the
 * cache and why, the backoff before arming again, the PUBLISH fallback and the refusal, a cluster's
 * masters. What a real Redis, Valkey and a real cluster do with the same commands:
 * test/cache/near-cache*.e2e-spec.ts.
 */
describe('InvalidationTracker', () => {
  const timings: TrackerTimings = { heartbeatInterval: 1_000, invalidationTimeout: 500 };

  beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] }));
  afterEach(() => jest.useRealTimers());

  /** Lets the fake's replies and messages through (each a promise or a microtask away). */
  const settle = async () => {
    for (let turn = 0; turn < 10; turn++) await new Promise((resolve) => setImmediate(resolve));
  };
  const advance = async (ms: number) => {
    await jest.advanceTimersByTimeAsync(ms);
    await settle();
  };

  function tracked(client: Redis | Cluster, prefix = 'app:', settings = timings) {
    const invalidated: string[] = [];
    const flushed: FlushReason[] = [];
    const warnings: string[] = [];
    const tracker = new InvalidationTracker(
      client,
      prefix,
      { invalidated: (key) => invalidated.push(key), flushed: (reason) => flushed.push(reason) },
      settings,
      { warn: (message) => warnings.push(message) },
    );
    return { tracker, invalidated, flushed, warnings };
  }

  /** A tracker over one fake master, started and given the time to arm (or to fail arming). */
  async function started(behaviour: FakeMasterBehaviour = {}, keyPrefix?: string) {
    const master = new FakeMaster('10.0.0.1', 6379, behaviour);
    const client = fakeStandalone(master, keyPrefix);
    const watched = tracked(client);
    watched.tracker.start();
    await settle();
    return { master, client, ...watched };
  }

  /** The connections a master holds open now. */
  const open = (master: FakeMaster) => master.connections.filter((connection) => connection.connected);
  const sets = (master: FakeMaster) => master.connections.flatMap((connection) => connection.commands.filter(([name]) => name === 'SET'));
  const publishes = (master: FakeMaster) => master.connections.flatMap((connection) => connection.commands.filter(([name]) => name === 'PUBLISH'));

  describe('on one master', () => {
    it("tracks the prefix as Redis stores it (the client's keyPrefix first), and is armed only once its first heartbeat came back", async () => {
      const { master, tracker, invalidated } = await started({ holdDeliveries: true }, 'k:');
      expect(master.tracking.map(({ prefix }) => prefix)).toEqual(['k:app:']);
      const [[, heartbeatKey, , px, ttl]] = sets(master);
      expect(heartbeatKey).toMatch(/^k:app:near-cache:heartbeat:[\w-]{8}$/);
      expect([px, ttl]).toEqual(['PX', 10_000]);
      expect(tracker.armed).toBe(false);
      master.release();
      await settle();
      expect(tracker.armed).toBe(true);
      expect(invalidated).toEqual([heartbeatKey.slice('k:'.length)]);
      tracker.close();
    });

    it('gives the heartbeat key ten heartbeat intervals to live, and never less than 10 s', async () => {
      for (const [heartbeatInterval, expected] of [
        [500, 10_000],
        [1_000, 10_000],
        [3_000, 30_000],
      ]) {
        const master = new FakeMaster('10.0.0.1', 6379);
        const { tracker } = tracked(fakeStandalone(master), 'app:', { heartbeatInterval, invalidationTimeout: 500 });
        tracker.start();
        await settle();
        expect(sets(master)[0].slice(3)).toEqual(['PX', expected]);
        tracker.close();
      }
    });

    it('arms once, however many times it is started', async () => {
      const master = new FakeMaster('10.0.0.1', 6379);
      const { tracker } = tracked(fakeStandalone(master));
      tracker.start();
      tracker.start();
      await settle();
      tracker.start();
      await settle();
      expect(master.connections).toHaveLength(2);
      tracker.close();
    });

    it('beats every heartbeatInterval while armed, each time a fresh write of its key', async () => {
      const { master, tracker, flushed } = await started();
      expect(sets(master)).toHaveLength(1);
      await advance(999);
      expect(sets(master)).toHaveLength(1);
      await advance(1);
      expect(sets(master)).toHaveLength(2);
      await advance(2_000);
      expect(sets(master)).toHaveLength(4);
      expect(flushed).toEqual([]);
      expect(tracker.armed).toBe(true);
      tracker.close();
    });

    it('reports each key Redis says changed without the keyPrefix, and resolves whoever expects it', async () => {
      const { master, tracker, invalidated } = await started({}, 'k:');
      invalidated.length = 0;
      const first = tracker.expect('app:sess:one');
      const second = tracker.expect('app:sess:one');
      let arrived = 0;
      void first.arrived.then(() => arrived++);
      void second.arrived.then(() => arrived++);
      master.changed('k:app:sess:other');
      await settle();
      expect(arrived).toBe(0);
      master.changed('k:app:sess:one');
      await settle();
      expect(arrived).toBe(2);
      expect(invalidated).toEqual(['app:sess:other', 'app:sess:one']);
      tracker.close();
    });

    it('flushes the cache when an expected invalidation is late, with the reason given (late-invalidation by default), and resolves', async () => {
      const { tracker, flushed, warnings } = await started();
      let arrived = false;
      void tracker.expect('app:sess:one').arrived.then(() => (arrived = true));
      await advance(499);
      expect([arrived, flushed]).toEqual([false, []]);
      await advance(1);
      expect([arrived, flushed]).toEqual([true, ['late-invalidation']]);
      expect(tracker.armed).toBe(false);
      expect(warnings).toEqual([messages.nearCacheDisarmed('late-invalidation')]);

      await advance(100); // armed again
      expect(tracker.armed).toBe(true);
      void tracker.expect('app:sess:two', 'connection');
      await advance(500);
      expect(flushed).toEqual(['late-invalidation', 'connection']);
      tracker.close();
    });

    it('forgets a cancelled expectation: no flush when its time is up, and the others on the key still wait', async () => {
      const { master, tracker, flushed } = await started();
      const cancelled = tracker.expect('app:sess:one');
      const kept = tracker.expect('app:sess:one');
      let keptArrived = false;
      void kept.arrived.then(() => (keptArrived = true));
      cancelled.cancel();
      await expect(cancelled.arrived).resolves.toBeUndefined();
      expect(keptArrived).toBe(false);
      master.changed('app:sess:one');
      await settle();
      expect(keptArrived).toBe(true);
      await advance(1_000);
      expect(flushed).toEqual([]);
      tracker.close();
    });

    it('holds no entry for a key once nobody waits on it', async () => {
      const { master, tracker } = await started();
      const waiters = (tracker as unknown as { waiters: Map<string, Set<unknown>> }).waiters;
      const one = tracker.expect('app:sess:one');
      const two = tracker.expect('app:sess:one');
      one.cancel();
      expect([...waiters.keys()]).toEqual(['app:sess:one']);
      two.cancel();
      expect(waiters.size).toBe(0);
      tracker.expect('app:sess:two');
      master.changed('app:sess:two');
      await settle();
      expect(waiters.size).toBe(0);
      // A set replaced while its last waiter was leaving is not the one removed.
      const left = tracker.expect('app:sess:three');
      waiters.set('app:sess:three', new Set([() => undefined]));
      left.cancel();
      expect(waiters.has('app:sess:three')).toBe(true);
      tracker.close();
    });

    it('flushes for a FLUSHALL and releases every waiter, staying armed', async () => {
      const { master, tracker, flushed, invalidated } = await started();
      invalidated.length = 0;
      let arrived = false;
      void tracker.expect('app:sess:one').arrived.then(() => (arrived = true));
      master.flushAll();
      await settle();
      expect([arrived, flushed, invalidated]).toEqual([true, ['flushall'], []]);
      expect(tracker.armed).toBe(true);
      tracker.close();
    });

    it('flushes when a heartbeat is late, says so, closes the pair and arms a fresh one after 100 ms', async () => {
      const { master, tracker, flushed, warnings } = await started();
      master.behaviour.holdDeliveries = true;
      await advance(1_000 + 499);
      expect(flushed).toEqual([]);
      await advance(1);
      expect(flushed).toEqual(['heartbeat']);
      expect(warnings).toEqual([messages.nearCacheDisarmed('heartbeat')]);
      expect(tracker.armed).toBe(false);
      expect(open(master)).toEqual([]);
      master.release();
      await advance(99);
      expect(master.connections).toHaveLength(2);
      await advance(1);
      expect(open(master)).toHaveLength(2);
      expect(tracker.armed).toBe(true);
      tracker.close();
    });

    it('flushes when a heartbeat cannot be written, and arms again once it can', async () => {
      const { master, tracker, flushed } = await started();
      master.behaviour.refuseSet = new Error('READONLY You cannot write against a read only replica.');
      await advance(1_000);
      expect(flushed).toEqual(['heartbeat']);
      expect(tracker.armed).toBe(false);
      await advance(100); // the first heartbeat of the fresh pair is refused too
      expect(flushed).toEqual(['heartbeat', 'connection']);
      master.behaviour.refuseSet = undefined;
      await advance(200);
      expect(tracker.armed).toBe(true);
      tracker.close();
    });

    it('is not armed before the first heartbeat came back in time; a late first one flushes without a warning', async () => {
      const master = new FakeMaster('10.0.0.1', 6379, { holdDeliveries: true });
      const { tracker, flushed, warnings } = tracked(fakeStandalone(master));
      tracker.start();
      await advance(500);
      expect(flushed).toEqual(['heartbeat']);
      expect(warnings).toEqual([]); // it was never armed: nothing was served from the cache
      master.release(); // the late heartbeat arrives for a generation that is gone
      await settle();
      expect(tracker.armed).toBe(false);
      await advance(100);
      expect(tracker.armed).toBe(true);
      tracker.close();
    });

    it.each(['close', 'end', 'reconnecting'])("flushes when the app's client emits %s, says so, and arms again", async (event) => {
      const { master, client, tracker, flushed, warnings } = await started();
      client.emit(event);
      expect(flushed).toEqual(['connection']);
      expect(warnings).toEqual([messages.nearCacheDisarmed('connection')]);
      expect(tracker.armed).toBe(false);
      expect(open(master)).toEqual([]);
      await advance(100);
      expect(tracker.armed).toBe(true);
      tracker.close();
    });

    it('flushes when one of its own connections drops', async () => {
      const { master, tracker, flushed } = await started();
      master.connections[1].drop();
      expect(flushed).toEqual(['connection']);
      expect(tracker.armed).toBe(false);
      tracker.close();
    });

    it('waits 100 ms before arming again, doubling after each failure up to 5 s, and 100 ms again once armed', async () => {
      const { master, client, tracker, flushed } = await started({ unreachable: new Error('connect ECONNREFUSED') });
      const attempts = () => master.connections.length / 2;
      expect(attempts()).toBe(1);
      for (const delay of [100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000]) {
        const before = attempts();
        await advance(delay - 1);
        expect(attempts()).toBe(before);
        await advance(1);
        expect(attempts()).toBe(before + 1);
      }
      expect(flushed.every((reason) => reason === 'connection')).toBe(true);
      master.behaviour.unreachable = undefined;
      await advance(5_000);
      expect(tracker.armed).toBe(true);
      client.emit('close');
      const before = attempts();
      await advance(99);
      expect(attempts()).toBe(before);
      await advance(1);
      expect(attempts()).toBe(before + 1);
      tracker.close();
    });

    it('waits for the client to be ready, flushing and retrying meanwhile', async () => {
      const master = new FakeMaster('10.0.0.1', 6379);
      const client = fakeStandalone(master);
      (client as unknown as { status: string }).status = 'connecting';
      const { tracker, flushed } = tracked(client);
      tracker.start();
      await settle();
      expect(master.connections).toEqual([]);
      expect(flushed).toEqual(['connection']);
      (client as unknown as { status: string }).status = 'ready';
      await advance(100);
      expect(tracker.armed).toBe(true);
      tracker.close();
    });

    it('lets an arming overtaken by a flush go: it writes no heartbeat over the fresh pair and arms nothing', async () => {
      const { master, client, tracker } = await started({ holdConnects: true });
      client.emit('reconnecting'); // the first arming is still connecting
      await advance(100); // the second starts, still connecting too
      expect(master.connections).toHaveLength(4);
      const [first, second] = master.heldConnects.splice(0, 2);
      first();
      second(); // the first pair connects: it belongs to an arming that is gone
      await settle();
      expect(sets(master)).toEqual([]);
      expect(tracker.armed).toBe(false);
      master.behaviour.holdConnects = false;
      master.releaseConnects();
      await settle();
      expect(sets(master)).toHaveLength(1);
      expect(tracker.armed).toBe(true);
      tracker.close();
    });

    it('takes no refusal met by an arming already overtaken as a reason to fall back', async () => {
      const { master, client, tracker, warnings } = await started({ holdConnects: true });
      client.emit('reconnecting');
      master.behaviour.refuseTracking = refusals.unknownCommand(); // as a failover to a service that refuses it would
      master.releaseConnects();
      await settle();
      expect(tracker.publishing).toBe(false);
      expect(warnings).toEqual([]);
      tracker.close();
    });

    it('never arms, once closed, an arming that was still connecting', async () => {
      const { master, client, tracker } = await started({ holdConnects: true });
      client.emit('close');
      await advance(100);
      tracker.close();
      master.behaviour.holdConnects = false;
      master.releaseConnects();
      await advance(5_000);
      expect(tracker.armed).toBe(false);
      expect(sets(master)).toEqual([]);
    });

    it('stops for good on close: connections, timers, waiters and listeners on the client', async () => {
      const { master, client, tracker, flushed } = await started();
      let arrived = false;
      void tracker.expect('app:sess:one').arrived.then(() => (arrived = true));
      tracker.close();
      await settle();
      expect(arrived).toBe(true);
      expect(tracker.armed).toBe(false);
      expect(open(master)).toEqual([]);
      for (const event of ['close', 'end', 'reconnecting']) expect(client.listenerCount(event)).toBe(0);
      client.emit('close');
      await advance(10_000);
      expect(sets(master)).toHaveLength(1);
      expect(master.connections).toHaveLength(2);
      expect(flushed).toEqual([]);
      tracker.start();
      await settle();
      expect(master.connections).toHaveLength(2);
    });

    it('stops a retry pending when closed', async () => {
      const { master, tracker } = await started({ unreachable: new Error('connect ECONNREFUSED') });
      tracker.close();
      await advance(10_000);
      expect(master.connections).toHaveLength(2);
    });
  });

  describe('where Redis refuses tracking', () => {
    it.each([
      ['an unknown subcommand', refusals.unknownCommand],
      ['NOPERM', refusals.noPermission],
    ])('falls back to the PUBLISH channel on %s, says so once, and arms there', async (_what, refusal) => {
      const master = new FakeMaster('10.0.0.1', 6379, { refuseTracking: refusal() });
      const { tracker, warnings, flushed } = tracked(fakeStandalone(master, 'k:'));
      expect(tracker.channel).toBe('app:near-cache:invalidate');
      tracker.start();
      await settle();
      expect(warnings).toEqual([messages.nearCacheFallback(refusal().message)]);
      expect(flushed).toEqual([]);
      expect(tracker.publishing).toBe(true);
      expect(tracker.armed).toBe(true);
      expect(open(master)).toHaveLength(2); // the refused pair closed, the fallback's open
      expect(master.connections[2].commands).toContainEqual(['SUBSCRIBE', 'app:near-cache:invalidate']);
      const [[, channel, heartbeat]] = publishes(master);
      expect(channel).toBe('app:near-cache:invalidate');
      expect(heartbeat).toMatch(/^app:near-cache:heartbeat:[\w-]{8}$/); // as the library names it: no keyPrefix
      expect(sets(master)).toEqual([]);
      tracker.close();
    });

    it('takes a published key as the library names it, even one that starts like the keyPrefix', async () => {
      const master = new FakeMaster('10.0.0.1', 6379, { refuseTracking: refusals.unknownCommand() });
      const { tracker, invalidated } = tracked(fakeStandalone(master, 'k:'), 'k:');
      tracker.start();
      await settle();
      invalidated.length = 0;
      master.deliver(tracker.channel, Buffer.from('k:sess:one'));
      await settle();
      expect(invalidated).toEqual(['k:sess:one']);
      tracker.close();
    });

    it('gives up for good when the fallback is refused too: says so, never arms, never retries', async () => {
      const denied = new (refusals.noPermission().constructor as new (message: string) => Error)(
        'NOPERM this user has no permissions to access one of the channels used as arguments',
      );
      const { master, client, tracker, warnings, flushed } = await started({
        refuseTracking: refusals.unknownCommand(),
        refuseSubscribe: { 'app:near-cache:invalidate': denied },
      });
      expect(warnings).toEqual([messages.nearCacheFallback(refusals.unknownCommand().message), messages.nearCacheRefused(denied.message)]);
      expect(tracker.armed).toBe(false);
      expect(open(master)).toEqual([]);
      await advance(60_000);
      expect(master.connections).toHaveLength(4);
      client.emit('close'); // still flushes what it holds, but arms nothing
      expect(flushed).toEqual(['connection']);
      await advance(60_000);
      expect(master.connections).toHaveLength(4);
      expect(warnings).toHaveLength(2);
      tracker.close();
    });

    it.each([
      ['a dropped connection', () => new Error('Connection is closed.')],
      [
        'a reply error of a Redis still loading',
        () => new (refusals.noPermission().constructor as new (message: string) => Error)('LOADING Redis is loading the dataset in memory'),
      ],
      ['an error that reads like a refusal but is no reply of Redis', () => new Error('unknown command: the proxy dropped it')],
    ])('takes %s for a broken connection, not for a reason to fall back', async (_what, error) => {
      const { tracker, warnings, flushed } = await started({ refuseTracking: error() });
      expect(tracker.publishing).toBe(false);
      expect(warnings).toEqual([]);
      expect(flushed).toEqual(['connection']);
      tracker.close();
    });
  });

  describe('on a cluster', () => {
    const threeMasters = () => [new FakeMaster('10.0.0.1', 7000), new FakeMaster('10.0.0.2', 7001), new FakeMaster('10.0.0.3', 7002)];
    const slotOwner = (cluster: Cluster, key: string) => cluster.slots[keySlot(key)][0];

    /** A tracker over a fake cluster of three masters, started and given the time to arm. */
    async function startedOnCluster(options: { prefix?: string; unassigned?: (slot: number) => boolean } = {}) {
      const masters = threeMasters();
      const cluster = fakeCluster(masters, undefined, options.unassigned);
      const watched = tracked(cluster, options.prefix);
      watched.tracker.start();
      await settle();
      return { masters, cluster, ...watched };
    }

    it('tracks every master, each with a heartbeat key in a slot it serves, and is armed once all came back', async () => {
      const masters = threeMasters();
      masters[2].behaviour.holdDeliveries = true;
      const cluster = fakeCluster(masters, 'k:');
      const { tracker } = tracked(cluster);
      tracker.start();
      await settle();
      const keys = masters.map((master) => sets(master).map(([, key]) => key));
      for (const [index, master] of masters.entries()) {
        expect(master.tracking.map(({ prefix }) => prefix)).toEqual(['k:app:']);
        expect(keys[index]).toHaveLength(1);
        expect(keys[index][0]).toMatch(/^k:app:near-cache:heartbeat:\{\d+\}:[\w-]{8}$/);
        expect(slotOwner(cluster, keys[index][0])).toBe(`${master.host}:${master.port}`);
      }
      expect(tracker.armed).toBe(false);
      masters[2].release();
      await settle();
      expect(tracker.armed).toBe(true);
      tracker.close();
    });

    it('beats only on the master that serves a prefix pinned by its hash tag', async () => {
      const { masters, cluster, tracker } = await startedOnCluster({ prefix: '{shop}:' });
      const owner = slotOwner(cluster, '{shop}:');
      for (const master of masters) {
        expect(sets(master)).toHaveLength(`${master.host}:${master.port}` === owner ? 1 : 0);
        expect(master.tracking).toHaveLength(1);
      }
      expect(tracker.armed).toBe(true);
      tracker.close();
    });

    it('falls back to one subscriber for the whole cluster: PUBLISH reaches every node', async () => {
      const masters = threeMasters();
      for (const master of masters) master.behaviour.refuseTracking = refusals.unknownCommand();
      const { tracker } = tracked(fakeCluster(masters));
      tracker.start();
      await settle();
      expect(tracker.armed).toBe(true);
      expect(masters.map((master) => open(master).length)).toEqual([2, 0, 0]);
      tracker.close();
    });

    it('flushes when a node leaves, and when the masters change once armed; not for a refresh that changes nothing', async () => {
      const { masters, cluster, tracker, flushed } = await startedOnCluster();
      cluster.emit('refresh');
      cluster.emit('+node');
      expect(flushed).toEqual([]);
      cluster.masters = [...masters, new FakeMaster('10.0.0.4', 7003)];
      cluster.emit('refresh');
      expect(flushed).toEqual(['topology']);
      await advance(100);
      expect(tracker.armed).toBe(true);
      expect(open(cluster.masters[3])).toHaveLength(2);
      cluster.masters = masters;
      cluster.emit('+node');
      expect(flushed).toEqual(['topology', 'topology']);
      await advance(200);
      cluster.emit('-node');
      expect(flushed).toEqual(['topology', 'topology', 'connection']);
      tracker.close();
      for (const event of ['-node', 'refresh', '+node', 'close']) expect(cluster.listenerCount(event)).toBe(0);
    });

    it('arms on a cluster some of whose slots no master serves (a resharding under way)', async () => {
      const masters = threeMasters();
      const cluster = fakeCluster(masters, undefined, (slot) => slot % 2 === 0);
      const { tracker } = tracked(cluster);
      tracker.start();
      await settle();
      expect(tracker.armed).toBe(true);
      for (const master of masters) expect(sets(master)).toHaveLength(1);
      tracker.close();
    });

    it('takes a refresh that lists the same masters in another order for no change, and a master replaced for one', async () => {
      const { masters, cluster, tracker, flushed } = await startedOnCluster();
      cluster.masters = [masters[2], masters[0], masters[1]];
      cluster.emit('refresh');
      expect(flushed).toEqual([]);
      cluster.masters = [masters[0], masters[1], new FakeMaster('10.0.0.9', 7002)]; // a replica promoted in place of the third
      cluster.emit('refresh');
      expect(flushed).toEqual(['topology']);
      tracker.close();
    });

    it('arms again when a master joined while it was arming, rather than trust a set missing it', async () => {
      const masters = threeMasters();
      for (const master of masters) master.behaviour.holdDeliveries = true;
      const cluster = fakeCluster(masters);
      const { tracker, flushed } = tracked(cluster);
      tracker.start();
      await settle();
      const joined = new FakeMaster('10.0.0.4', 7003);
      cluster.masters = [...masters, joined];
      cluster.emit('refresh'); // not armed yet: the event itself disarms nothing
      expect(flushed).toEqual([]);
      for (const master of masters) master.release();
      await settle();
      expect(flushed).toEqual(['topology']);
      expect(tracker.armed).toBe(false);
      await advance(100);
      expect(tracker.armed).toBe(true);
      expect(open(joined)).toHaveLength(2);
      tracker.close();
    });

    it('waits for the cluster client to be ready', async () => {
      const masters = threeMasters();
      const cluster = fakeCluster(masters);
      (cluster as unknown as { status: string }).status = 'connect';
      const { tracker, flushed } = tracked(cluster);
      tracker.start();
      await settle();
      expect(flushed).toEqual(['connection']);
      expect(masters.every((master) => master.connections.length === 0)).toBe(true);
      (cluster as unknown as { status: string }).status = 'ready';
      await advance(100);
      expect(tracker.armed).toBe(true);
      tracker.close();
    });
  });
});
