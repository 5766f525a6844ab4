import Redis, { Cluster } from 'ioredis';
import { once } from 'node:events';
import { RedisSessionStore } from '@app/session';
import { CommandRecorder, type RecordedCommand } from '../support/command-recorder';
import { isSave, saveOf } from '../support/save-args';
import { deleteByPrefix, uniquePrefix } from '../support/prefix';
import { startRedis } from '../support/redis';
import { startCluster, startSentinelSetup, topologyAvailable } from '../support/topologies';
import { freshSession, loadSession, newSid, recordingLogger, saveSession, viaCallback } from './fixtures';
import { sessionRedisKey } from '../support/key-scheme';

/** The core of the store's contract, on each topology it supports. */
interface Setup {
  connect(): Redis | Cluster;
  /** Every master, for MONITOR and for per-node checks. */
  masterUrls: string[];
  stop(): Promise<void>;
}

const available = topologyAvailable();

const topologies: { kind: string; available: boolean; start(): Promise<Setup> }[] = [
  {
    kind: 'standalone',
    available: true,
    async start() {
      const redis = await startRedis();
      return { connect: () => new Redis(redis.url), masterUrls: [redis.url], stop: () => redis.stop() };
    },
  },
  {
    kind: 'sentinel',
    available: available.sentinel,
    async start() {
      const setup = await startSentinelSetup();
      return {
        connect: () => new Redis({ sentinels: setup.sentinels, name: setup.name }),
        masterUrls: [`redis://${setup.master.host}:${setup.master.port}`],
        stop: setup.stop,
      };
    },
  },
  {
    kind: 'cluster',
    available: available.cluster,
    async start() {
      const cluster = await startCluster();
      return {
        connect: () => new Redis.Cluster(cluster.nodes),
        masterUrls: cluster.nodes.map(({ host, port }) => `redis://${host}:${port}`),
        stop: cluster.stop,
      };
    },
  },
];

const rows = topologies.map((topology) => ({
  ...topology,
  title: topology.available ? topology.kind : `${topology.kind} (skipped: ${available.reason})`,
}));

async function ready(client: Redis | Cluster): Promise<void> {
  if (client.status !== 'ready') await once(client, 'ready');
}

describe.each(rows)('$title', ({ kind, available: runs, start }) => {
  const maybe = runs ? it : it.skip;
  let setup: Setup | undefined;
  let client: Redis | Cluster;
  let admin: Redis | Cluster;
  let prefix: string;
  let store: RedisSessionStore;

  beforeAll(async () => {
    if (!runs) return console.warn(`Skipping the ${kind} topology: ${available.reason}`);
    setup = await start();
    client = setup.connect();
    admin = setup.connect();
    await Promise.all([ready(client), ready(admin)]);
  });
  afterAll(async () => {
    await client?.quit();
    await admin?.quit();
    await setup?.stop();
  });
  beforeEach(() => {
    if (!runs) return;
    prefix = uniquePrefix(`topo-${kind}`);
    store = new RedisSessionStore({ client, prefix, logger: recordingLogger() });
  });
  afterEach(async () => {
    if (runs) await deleteByPrefix(admin, prefix);
  });

  /** Keys under the prefix on each master, scanned node by node. */
  async function keysPerMaster(): Promise<string[][]> {
    const nodes = admin instanceof Cluster ? admin.nodes('master') : [admin];
    return Promise.all(
      nodes.map(async (node) => {
        const keys: string[] = [];
        let cursor = '0';
        do {
          const [next, batch] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
          keys.push(...batch);
          cursor = next;
        } while (cursor !== '0');
        return keys;
      }),
    );
  }

  async function recorded(action: () => Promise<void>): Promise<RecordedCommand[]> {
    const recorders = await Promise.all(setup!.masterUrls.map((url) => CommandRecorder.start(url, { keyPrefix: prefix })));
    try {
      await action();
      return (await Promise.all(recorders.map((recorder) => recorder.settle()))).flat();
    } finally {
      await Promise.all(recorders.map((recorder) => recorder.stop()));
    }
  }

  maybe('writes only the changed field, and parallel saves of different keys keep both', async () => {
    const sid = newSid();
    await store.set(sid, freshSession(store, sid, { cart: [], theme: 'dark', user: { id: 1 } }, { maxAge: 60_000 }));
    const session = await loadSession(store, sid);
    session.theme = 'light';
    const commands = await recorded(() => saveSession(session));
    const saves = commands
      .filter(isSave)
      .map(saveOf)
      .filter((save) => save.key === sessionRedisKey(prefix, sid));
    expect(saves).toHaveLength(1);
    expect(saves[0]).toMatchObject({ mode: 'patch', set: ['theme', '"light"'], del: [] });

    const first = await loadSession(store, sid);
    const second = await loadSession(store, sid);
    first.cart = ['book'];
    second.user = { id: 1, name: 'Ada' };
    await Promise.all([saveSession(first), saveSession(second)]);
    await expect(store.get(sid)).resolves.toMatchObject({ cart: ['book'], theme: 'light', user: { id: 1, name: 'Ada' } });
  });

  maybe('keys hold a digest of the ID, never the ID', async () => {
    const sids = Array.from({ length: 5 }, newSid);
    for (const sid of sids) await store.set(sid, freshSession(store, sid, { n: 1 }));
    const keys = (await keysPerMaster()).flat().sort();
    expect(keys).toEqual(sids.map((sid) => sessionRedisKey(prefix, sid)).sort());
    for (const key of keys) expect(key.slice(prefix.length)).toMatch(/^[A-Za-z0-9_-]{32}$/);
    for (const sid of sids) expect(keys.join('\n')).not.toContain(sid);
  });

  maybe('expires exactly at cookie.expires, gives a browser-session cookie the idle timeout, and deletes a past one', async () => {
    const sid = newSid();
    const expiresAt = Date.now() + 60_000 + 7;
    await store.set(sid, freshSession(store, sid, { n: 1 }, { expires: new Date(expiresAt) }));
    await expect(admin.call('PEXPIRETIME', sessionRedisKey(prefix, sid))).resolves.toBe(expiresAt);
    expect(new Date((await store.get(sid))!.cookie.expires!).getTime()).toBe(expiresAt);

    const short = new RedisSessionStore({ client, prefix, idleTimeout: 400, logger: recordingLogger() });
    const browser = newSid();
    const before = Date.now();
    await short.set(browser, freshSession(short, browser, { n: 1 }));
    const at = Number(await admin.call('PEXPIRETIME', sessionRedisKey(prefix, browser)));
    expect(at - before).toBeGreaterThanOrEqual(400);
    expect(at - before).toBeLessThan(400 + 200);

    const past = newSid();
    await store.set(past, freshSession(store, past, { n: 1 }, { expires: new Date(Date.now() - 1) }));
    await expect(admin.exists(sessionRedisKey(prefix, past))).resolves.toBe(0);
  });

  maybe('a save does not bring back a session destroyed meanwhile', async () => {
    const sid = newSid();
    await store.set(sid, freshSession(store, sid, { user: 'ada' }, { maxAge: 60_000 }));
    const slow = await loadSession(store, sid);
    await store.destroy(sid);
    slow.cart = ['book'];
    await saveSession(slow);
    await expect(admin.exists(sessionRedisKey(prefix, sid))).resolves.toBe(0);
  });

  maybe('get, set, touch and destroy take a callback or return a promise', async () => {
    const [a, b] = [newSid(), newSid()];
    expect((await viaCallback((cb) => store.set(a, freshSession(store, a, { n: 1 }), cb))).error).toBeNull();
    await store.set(b, freshSession(store, b, { n: 2 }));

    const got = await viaCallback((cb) => store.get(a, cb));
    expect(got).toMatchObject({ error: null, value: { n: 1 } });
    await expect(store.get(b)).resolves.toMatchObject({ n: 2 });

    const later = Date.now() + 90_000;
    await viaCallback((cb) => store.touch(a, freshSession(store, a, {}, { expires: new Date(later) }), cb as () => void));
    await store.touch(b, freshSession(store, b, {}, { expires: new Date(later) }));
    await expect(admin.call('PEXPIRETIME', sessionRedisKey(prefix, a))).resolves.toBe(later);
    await expect(admin.call('PEXPIRETIME', sessionRedisKey(prefix, b))).resolves.toBe(later);

    expect((await viaCallback((cb) => store.destroy(a, cb))).error).toBeNull();
    await store.destroy(b);
    await expect(store.get(a)).resolves.toBeNull();
    await expect(store.get(b)).resolves.toBeNull();
  });

  maybe('all, ids, length and clear see the sessions on every master, in both styles', async () => {
    const sids = Array.from({ length: 30 }, newSid);
    await Promise.all(sids.map((sid, i) => store.set(sid, freshSession(store, sid, { i }))));
    const perMaster = await keysPerMaster();
    if (kind === 'cluster') {
      expect(perMaster).toHaveLength(3);
      for (const keys of perMaster) expect(keys.length).toBeGreaterThan(0); // spread over every master
    }
    const digests = sids.map((sid) => sessionRedisKey(prefix, sid).slice(prefix.length)).sort();

    await expect(store.length()).resolves.toBe(30);
    expect(await viaCallback((cb) => store.length(cb))).toMatchObject({ error: null, value: 30 });
    expect((await store.ids()).sort()).toEqual(digests);
    expect([...(await viaCallback<string[]>((cb) => store.ids(cb))).value!].sort()).toEqual(digests);
    const all = await store.all();
    expect(Object.keys(all).sort()).toEqual(digests);
    expect(
      Object.values(all)
        .map((session) => session.i)
        .sort((x, y) => Number(x) - Number(y)),
    ).toEqual(sids.map((_, i) => i));
    expect(Object.keys((await viaCallback<object>((cb) => store.all(cb))).value!).sort()).toEqual(digests);

    expect((await viaCallback((cb) => store.clear(cb))).error).toBeNull();
    expect((await keysPerMaster()).flat()).toEqual([]);
    await Promise.all(sids.slice(0, 10).map((sid) => store.set(sid, freshSession(store, sid, {}))));
    await store.clear();
    expect((await keysPerMaster()).flat()).toEqual([]);
    await expect(store.length()).resolves.toBe(0);
  });

  maybe('all, ids, length and clear on a client that is still connecting see every session', async () => {
    const sids = Array.from({ length: 12 }, newSid);
    await Promise.all(sids.map((sid) => store.set(sid, freshSession(store, sid, {}))));
    const clients: { quit(): Promise<unknown> }[] = [];
    const fresh = () => {
      const connecting = setup!.connect();
      expect(connecting.status).not.toBe('ready');
      clients.push(connecting);
      return new RedisSessionStore({ client: connecting, prefix, logger: recordingLogger() });
    };
    const stores = [fresh(), fresh(), fresh(), fresh()];
    try {
      await expect(stores[0].length()).resolves.toBe(12);
      await expect(stores[1].ids()).resolves.toHaveLength(12);
      expect(Object.keys(await stores[2].all())).toHaveLength(12);
      await stores[3].clear();
      expect((await keysPerMaster()).flat()).toEqual([]);
    } finally {
      await Promise.all(clients.map((client) => client.quit()));
    }
  });
});
