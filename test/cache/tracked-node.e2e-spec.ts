import Redis from 'ioredis';
import { once } from 'node:events';
import { INVALIDATE_CHANNEL, TrackedNode, type InvalidationSource } from '@app/session/cache/tracked-node';
import { freePorts, LOCALHOST } from '../support/ports';
import { uniquePrefix } from '../support/prefix';
import { waitUntil } from '../support/probe';
import { startRedis, type RedisServerHandle } from '../support/redis';

/** What a node reported, in order: each test awaits the next report as the event it is. */
class Reports<T> {
  private readonly held: T[] = [];
  private readonly waiting: ((report: T) => void)[] = [];

  push(report: T): void {
    const waiter = this.waiting.shift();
    if (waiter) waiter(report);
    else this.held.push(report);
  }

  next(): Promise<T> {
    return this.held.length > 0 ? Promise.resolve(this.held.shift()!) : new Promise((resolve) => this.waiting.push(resolve));
  }
}

/**
 * One master's invalidations (`TrackedNode`), on a Redis of this file's own (FLUSHALL is tested):
 * the two connections it opens, what it reports and when it says they broke. Redis sends its
 * messages to one connection in order, so a key that must not be reported is followed by one that
 * must, and the test checks that the next report is the second.
 */
describe('TrackedNode: one master, tracked on a real Redis', () => {
  let redis: RedisServerHandle;
  /** The application's client, which the node duplicates; it has a `keyPrefix`, which the node must not use. */
  let source: Redis;
  let admin: Redis;
  const KEY_PREFIX = 'app:';
  const prefix = uniquePrefix('tracked-node');
  const stored = `${KEY_PREFIX}${prefix}`;
  /** The connections of the nodes a test armed: closed after it, each unless already closed. */
  const nodes: { node: TrackedNode; connections: Redis[] }[] = [];

  beforeAll(async () => {
    redis = await startRedis({ controllable: true });
    source = new Redis(redis.url, { keyPrefix: KEY_PREFIX });
    admin = new Redis(redis.url);
  });

  afterEach(() => {
    // ioredis's disconnect() of a connection already closed leaves a 2 s timer that would hold jest open.
    for (const { node, connections } of nodes.splice(0)) {
      if (connections.every((connection) => connection.status !== 'end')) node.close();
      else for (const connection of connections) if (connection.status !== 'end') connection.disconnect();
    }
    jest.restoreAllMocks();
  });

  afterAll(async () => {
    source?.disconnect();
    admin?.disconnect();
    await redis?.stop();
  });

  /** Arms a node on `from`, keeping its two connections (subscriber, then tracker) and what it reports. */
  async function armed(kind: InvalidationSource, heartbeatKey?: string, from: Redis = source) {
    const node = new TrackedNode(from, heartbeatKey);
    const duplicate = jest.spyOn(from, 'duplicate');
    const reports = new Reports<string[] | null>();
    const broken: string[] = [];
    const connections = duplicate.mock.results;
    try {
      await node.arm(
        kind,
        (keys) => reports.push(keys),
        (why) => broken.push(why),
      );
    } finally {
      duplicate.mockRestore();
    }
    const [subscriber, tracker] = connections.map((result) => result.value as Redis);
    nodes.push({ node, connections: [subscriber, tracker] });
    return { node, reports, broken, subscriber, tracker };
  }

  const tracking: InvalidationSource = { kind: 'tracking', rawPrefix: stored };

  it('reports each key written under the prefix, as stored, by any client; nothing outside the prefix', async () => {
    const { reports } = await armed(tracking);
    await admin.set(`${KEY_PREFIX}elsewhere:${prefix}`, '1');
    await admin.set(`${stored}a`, '1');
    expect(await reports.next()).toEqual([`${stored}a`]);
    await source.set(`${prefix}b`, '1'); // the app's own client, through its keyPrefix
    expect(await reports.next()).toEqual([`${stored}b`]);
  });

  it('reports the keys one command changed together in one report, each by its name', async () => {
    const { reports } = await armed(tracking);
    await admin.mset(`${stored}one`, '1', `${stored}two`, '2');
    expect(((await reports.next()) ?? []).sort()).toEqual([`${stored}one`, `${stored}two`]);
  });

  it('reports FLUSHALL as null: every key dropped', async () => {
    const { reports } = await armed(tracking);
    await admin.flushall();
    expect(await reports.next()).toBeNull();
  });

  it('writes its heartbeat key as stored, with the TTL it is given, and reports it back', async () => {
    const heartbeatKey = `${stored}near-cache:heartbeat:x`;
    const { node, reports } = await armed(tracking, heartbeatKey);
    const before = Date.now();
    await node.beat(10_000, 'unused with tracking');
    expect(await reports.next()).toEqual([heartbeatKey]);
    const ttl = await admin.pttl(heartbeatKey);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(10_000);
    expect(Number(await admin.get(heartbeatKey))).toBeGreaterThanOrEqual(before);
  });

  it('sends nothing for a heartbeat when it has no heartbeat key, nor before it is armed', async () => {
    const idle = new TrackedNode(source, `${stored}never`);
    await expect(idle.beat(10_000, 'never')).resolves.toBeUndefined();
    const { node, reports } = await armed(tracking);
    await expect(node.beat(10_000, 'none')).resolves.toBeUndefined();
    await admin.set(`${stored}after`, '1');
    expect(await reports.next()).toEqual([`${stored}after`]);
    expect(await admin.exists(`${stored}never`)).toBe(0);
  });

  describe('with the PUBLISH fallback', () => {
    const channel = `${prefix}near-cache:invalidate`;
    const publish: InvalidationSource = { kind: 'publish', channel };

    it("turns no tracking on, and reports what is published on its channel, not Redis's invalidations", async () => {
      const { reports, tracker } = await armed(publish);
      // Where the fallback is used Redis refused CLIENT TRACKING: the node must not ask for it.
      expect(await tracker.call('CLIENT', 'TRACKINGINFO')).toEqual(['flags', ['off'], 'redirect', -1, 'prefixes', []]);
      await admin.set(`${stored}written`, '1');
      await admin.publish(INVALIDATE_CHANNEL, `${stored}written`);
      await admin.publish(channel, `${prefix}published`);
      expect(await reports.next()).toEqual([`${prefix}published`]);
    });

    it('beats by publishing the name it is given, and writes no heartbeat key', async () => {
      const heartbeatKey = `${stored}near-cache:heartbeat:y`;
      const { node, reports } = await armed(publish, heartbeatKey);
      await node.beat(10_000, `${prefix}near-cache:heartbeat:y`);
      expect(await admin.exists(heartbeatKey)).toBe(0);
      expect(await reports.next()).toEqual([`${prefix}near-cache:heartbeat:y`]);
    });
  });

  it('says a connection broke when Redis drops one, naming why', async () => {
    const { broken, tracker } = await armed(tracking);
    const id = await tracker.client('ID');
    const ended = once(tracker, 'end');
    await admin.client('KILL', 'ID', String(id));
    await ended;
    expect(broken).toEqual(['a tracking connection closed']);
  });

  it('says nothing broke when it is closed, and Redis forgets both connections', async () => {
    const { node, broken, subscriber, tracker } = await armed(tracking);
    const trackerId = String(await tracker.client('ID'));
    /** The ids of the clients Redis lists, each with its line. */
    const clients = async () => new Map(((await admin.client('LIST')) as string).split('\n').map((line) => [/^id=(\d+) /.exec(line)?.[1], line]));
    // The tracker redirects its invalidations to the subscriber: that is how Redis names it.
    const subscriberId = /\bredir=(\d+)/.exec((await clients()).get(trackerId) ?? '')?.[1];
    expect((await clients()).get(subscriberId)).toMatch(/ flags=P /);
    const ended = [once(subscriber, 'end'), once(tracker, 'end')];
    node.close();
    await Promise.all(ended);
    expect(broken).toEqual([]);
    await waitUntil('Redis to forget both connections', async () => {
      const left = await clients();
      return !left.has(trackerId) && !left.has(subscriberId);
    });
  });

  it("takes an 'error' event of either connection without throwing, and leaves the drop to 'close'", async () => {
    const { broken, subscriber, tracker, reports } = await armed(tracking);
    // ioredis reports a connection's failures as 'error' events; with no listener, EventEmitter throws
    // (and ioredis's own silentEmit writes "Unhandled error event" to stderr).
    for (const connection of [subscriber, tracker]) expect(() => connection.emit('error', new Error('read ECONNRESET'))).not.toThrow();
    expect(broken).toEqual([]);
    await admin.set(`${stored}still`, '1');
    expect(await reports.next()).toEqual([`${stored}still`]);
  });

  it('rejects when Redis is out of reach, without an unhandled error event of ioredis', async () => {
    const [port] = await freePorts(1); // nothing listens there
    const away = new Redis({ host: LOCALHOST, port, lazyConnect: true });
    const logged = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      await expect(armed(tracking, undefined, away)).rejects.toThrow();
      expect(logged.mock.calls.filter((call) => String(call[0]).includes('Unhandled error event'))).toEqual([]);
    } finally {
      if (away.status !== 'end') away.disconnect();
    }
  });
});
