import { FakeMaster, type FakeConnection, refusals } from '../../../../test/support/fake-tracking-redis';
import { INVALIDATE_CHANNEL, TrackedNode, type InvalidationHandler } from './tracked-node';

/**
 * One master's pair of connections for Redis's invalidations, over a fake Redis that speaks the
 * commands involved (test/support/fake-tracking-redis.ts): what is asked of Redis, in which order,
 * what each message becomes, and when a closed connection counts as broken. The same against a
 * real Redis, tracking and the PUBLISH fallback: test/cache/near-cache*.e2e-spec.ts.
 */
describe('TrackedNode', () => {
  const flush = () => new Promise((resolve) => setImmediate(resolve));

  /** `heartbeatKey: null`: a node on a master where no session key can live. */
  function armed(master = new FakeMaster('10.0.0.1', 6379), heartbeatKey: string | null = 'app:near-cache:heartbeat:r1') {
    const node = new TrackedNode(master.asClient('app:'), heartbeatKey ?? undefined);
    const heard: (string[] | null)[] = [];
    const broken: string[] = [];
    const onInvalidate: InvalidationHandler = (keys) => heard.push(keys);
    return { master, node, heard, broken, onInvalidate, onBroken: (why: string) => broken.push(why) };
  }

  function pair(master: FakeMaster): { subscriber: FakeConnection; tracker: FakeConnection } {
    const [subscriber, tracker] = master.connections;
    return { subscriber, tracker };
  }

  describe('with Redis tracking', () => {
    it('opens two connections of its own that never reconnect, queue offline or prefix keys, and speak RESP2', async () => {
      const { master, node, onInvalidate, onBroken } = armed();
      await node.arm({ kind: 'tracking', rawPrefix: 'app:sess:' }, onInvalidate, onBroken);
      expect(master.connections).toHaveLength(2);
      for (const { settings } of master.connections) {
        expect(settings).toEqual({
          lazyConnect: true,
          enableOfflineQueue: false,
          enableAutoPipelining: false,
          autoResubscribe: false,
          maxRetriesPerRequest: 0,
          retryStrategy: expect.any(Function),
          reconnectOnError: null,
          keyPrefix: undefined,
          protocol: 2,
        });
        expect('keyPrefix' in settings).toBe(true); // the client's own prefix is overridden, not inherited
        expect(settings.retryStrategy!(1)).toBeNull();
      }
    });

    it("subscribes to Redis's invalidation channel, then redirects BCAST tracking of the raw prefix to that subscriber", async () => {
      const { master, node, onInvalidate, onBroken } = armed();
      await node.arm({ kind: 'tracking', rawPrefix: 'app:sess:' }, onInvalidate, onBroken);
      const { subscriber, tracker } = pair(master);
      expect(subscriber.commands).toEqual([['CONNECT'], ['CLIENT', 'ID'], ['SUBSCRIBE', INVALIDATE_CHANNEL]]);
      expect(tracker.commands).toEqual([['CONNECT'], ['CLIENT', 'TRACKING', 'on', 'REDIRECT', String(subscriber.id), 'BCAST', 'PREFIX', 'app:sess:']]);
    });

    it('reports each changed key under the prefix, by any writer, as stored', async () => {
      const { master, node, heard, onInvalidate, onBroken } = armed();
      await node.arm({ kind: 'tracking', rawPrefix: 'app:sess:' }, onInvalidate, onBroken);
      master.changed('app:sess:one');
      master.changed('other:two'); // outside the prefix: Redis says nothing
      await flush();
      expect(heard).toEqual([['app:sess:one']]);
    });

    it('reports a FLUSHALL (a null message) as null, and a single key sent without a list as a list of one', async () => {
      const { master, node, heard, onInvalidate, onBroken } = armed();
      await node.arm({ kind: 'tracking', rawPrefix: 'app:' }, onInvalidate, onBroken);
      master.flushAll();
      await flush();
      pair(master).subscriber.emit('messageBuffer', Buffer.from(INVALIDATE_CHANNEL), Buffer.from('app:lone'));
      pair(master).subscriber.emit('messageBuffer', Buffer.from(INVALIDATE_CHANNEL), undefined);
      expect(heard).toEqual([null, ['app:lone'], null]);
    });

    it('ignores messages of any other channel', async () => {
      const { master, node, heard, onInvalidate, onBroken } = armed();
      await node.arm({ kind: 'tracking', rawPrefix: 'app:' }, onInvalidate, onBroken);
      pair(master).subscriber.emit('messageBuffer', Buffer.from('app:near-cache:invalidate'), Buffer.from('app:key'));
      expect(heard).toEqual([]);
    });

    it("rejects with Redis's refusal of CLIENT TRACKING", async () => {
      const refusal = refusals.unknownCommand();
      const { node, onInvalidate, onBroken } = armed(new FakeMaster('10.0.0.1', 6379, { refuseTracking: refusal }));
      await expect(node.arm({ kind: 'tracking', rawPrefix: 'app:' }, onInvalidate, onBroken)).rejects.toBe(refusal);
    });

    it('rejects when the master is out of reach', async () => {
      const unreachable = new Error('connect ECONNREFUSED');
      const { node, onInvalidate, onBroken } = armed(new FakeMaster('10.0.0.1', 6379, { unreachable }));
      await expect(node.arm({ kind: 'tracking', rawPrefix: 'app:' }, onInvalidate, onBroken)).rejects.toBe(unreachable);
    });

    it('beats by writing its heartbeat key with the TTL given, which comes back as an invalidation', async () => {
      const { master, node, heard, onInvalidate, onBroken } = armed();
      await node.arm({ kind: 'tracking', rawPrefix: 'app:' }, onInvalidate, onBroken);
      const before = Date.now();
      await node.beat(30_000, 'near-cache:heartbeat:r1');
      const [command, key, value, px, ttl] = pair(master).tracker.commands.at(-1)!;
      expect([command, key, px, ttl]).toEqual(['SET', 'app:near-cache:heartbeat:r1', 'PX', 30_000]);
      expect(Number(value)).toBeGreaterThanOrEqual(before);
      expect(Number(value)).toBeLessThanOrEqual(Date.now());
      await flush();
      expect(heard).toEqual([['app:near-cache:heartbeat:r1']]);
    });

    it('rejects a beat whose write Redis refuses', async () => {
      const refused = new Error('READONLY');
      const { node, onInvalidate, onBroken } = armed(new FakeMaster('10.0.0.1', 6379, { refuseSet: refused }));
      await node.arm({ kind: 'tracking', rawPrefix: 'app:' }, onInvalidate, onBroken);
      await expect(node.beat(30_000, 'hb')).rejects.toBe(refused);
    });
  });

  describe('with the PUBLISH fallback', () => {
    it('subscribes to the channel given, asks for no client id and turns no tracking on', async () => {
      const { master, node, onInvalidate, onBroken } = armed();
      await node.arm({ kind: 'publish', channel: 'app:near-cache:invalidate' }, onInvalidate, onBroken);
      const { subscriber, tracker } = pair(master);
      expect(subscriber.commands).toEqual([['CONNECT'], ['SUBSCRIBE', 'app:near-cache:invalidate']]);
      expect(tracker.commands).toEqual([['CONNECT']]);
      expect(master.tracking).toEqual([]);
    });

    it("reports what is published on the channel as one key, and ignores Redis's own invalidation channel", async () => {
      const { master, node, heard, onInvalidate, onBroken } = armed();
      await node.arm({ kind: 'publish', channel: 'app:near-cache:invalidate' }, onInvalidate, onBroken);
      master.deliver('app:near-cache:invalidate', Buffer.from('sess:abc'));
      pair(master).subscriber.emit('messageBuffer', Buffer.from(INVALIDATE_CHANNEL), [Buffer.from('sess:abc')]);
      await flush();
      expect(heard).toEqual([['sess:abc']]);
    });

    it('beats by publishing the heartbeat named, never by writing a key', async () => {
      const { master, node, heard, onInvalidate, onBroken } = armed();
      await node.arm({ kind: 'publish', channel: 'app:near-cache:invalidate' }, onInvalidate, onBroken);
      await node.beat(30_000, 'near-cache:heartbeat:r1');
      expect(pair(master).tracker.commands.at(-1)).toEqual(['PUBLISH', 'app:near-cache:invalidate', 'near-cache:heartbeat:r1']);
      await flush();
      expect(heard).toEqual([['near-cache:heartbeat:r1']]);
    });

    it('rejects when Redis refuses the subscription', async () => {
      const refusal = new Error('NOPERM this user has no permissions to access one of the channels');
      const { node, onInvalidate, onBroken } = armed(new FakeMaster('10.0.0.1', 6379, { refuseSubscribe: { c: refusal } }));
      await expect(node.arm({ kind: 'publish', channel: 'c' }, onInvalidate, onBroken)).rejects.toBe(refusal);
    });
  });

  describe('beats and closes', () => {
    it('does nothing on a beat before it is armed, or without a heartbeat key of its own', async () => {
      const unarmed = armed();
      await expect(unarmed.node.beat(1_000, 'hb')).resolves.toBeUndefined();
      expect(unarmed.master.connections).toEqual([]);

      const keyless = armed(new FakeMaster('10.0.0.1', 6379), null);
      await keyless.node.arm({ kind: 'tracking', rawPrefix: 'app:' }, keyless.onInvalidate, keyless.onBroken);
      await expect(keyless.node.beat(1_000, 'hb')).resolves.toBeUndefined();
      expect(pair(keyless.master).tracker.commands).toEqual([['CONNECT'], expect.arrayContaining(['CLIENT', 'TRACKING'])]);
    });

    it('tells when either connection closes without being asked to', async () => {
      for (const which of ['subscriber', 'tracker'] as const) {
        const { master, node, broken, onInvalidate, onBroken } = armed();
        await node.arm({ kind: 'tracking', rawPrefix: 'app:' }, onInvalidate, onBroken);
        pair(master)[which].drop();
        expect(broken).toEqual(['a tracking connection closed']);
      }
    });

    it('swallows connection errors: a drop is told through its close', async () => {
      const { master, node, broken, onInvalidate, onBroken } = armed();
      await node.arm({ kind: 'tracking', rawPrefix: 'app:' }, onInvalidate, onBroken);
      expect(() => pair(master).subscriber.emit('error', new Error('ECONNRESET'))).not.toThrow();
      expect(() => pair(master).tracker.emit('error', new Error('ECONNRESET'))).not.toThrow();
      expect(broken).toEqual([]);
    });

    it('closes both connections, and their closing is not a break; Redis forgets the tracking', async () => {
      const { master, node, broken, onInvalidate, onBroken } = armed();
      await node.arm({ kind: 'tracking', rawPrefix: 'app:' }, onInvalidate, onBroken);
      expect(master.tracking).toHaveLength(1);
      node.close();
      expect(master.connections.map((connection) => connection.disconnected)).toEqual([true, true]);
      expect(master.tracking).toEqual([]);
      expect(broken).toEqual([]);
    });

    it('closes cleanly before it was ever armed', () => {
      const { node } = armed();
      expect(() => node.close()).not.toThrow();
    });
  });
});
