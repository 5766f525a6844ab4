import Redis, { Cluster } from 'ioredis';
import { createServer, type Socket } from 'node:net';
import { CommandRecorder } from './command-recorder';
import { dockerAvailable, probeDocker } from './container';
import { engineOfInfo, expectedEngine } from './engine';
import { openMonitor } from './monitor';
import { deleteByPrefix, uniquePrefix } from './prefix';
import { freePorts, LOCALHOST, onFreePorts } from './ports';
import { ask, askOver } from './probe';
import { launchRedisServer, redisServerMissingReason } from './processes';
import { RedisServerHandle, startRedis } from './redis';
import { makeTempDir, removeTempDir } from './temp-dirs';
import { startCluster, startSentinelSetup, topologyAvailable } from './topologies';
import { makeTestCertificates, opensslMissingReason, type TestCertificates } from './tls-certificates';

const topology = topologyAvailable();

/** Sets environment variables for one block and puts the old values back afterwards. */
function withEnv(vars: Record<string, string | undefined>): void {
  const saved: Record<string, string | undefined> = {};
  beforeAll(() => {
    for (const [name, value] of Object.entries(vars)) {
      saved[name] = process.env[name];
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
  afterAll(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
}

describe('startRedis', () => {
  withEnv({ REDIS_URL: undefined });
  let redis: RedisServerHandle;
  let client: Redis;

  beforeAll(async () => {
    redis = await startRedis({ controllable: true });
    client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
  });

  it('answers PING, SET and GET', async () => {
    expect(redis.controllable).toBe(true);
    await expect(client.ping()).resolves.toBe('PONG');
    await client.set('harness:greeting', 'hello');
    await expect(client.get('harness:greeting')).resolves.toBe('hello');
  });

  it('refuses connections while interrupted and comes back with the same data on the same port', async () => {
    await client.set('harness:survivor', 'still here');
    client.disconnect();

    await redis.interrupt();
    await expect(ask(redis.host, redis.port, 'PING')).rejects.toThrow(/ECONNREFUSED/);

    await redis.resume();
    await client.connect();
    await expect(client.get('harness:survivor')).resolves.toBe('still here');
  });

  describe('with REDIS_URL pointing at it', () => {
    beforeAll(() => void (process.env.REDIS_URL = redis.url));
    afterAll(() => void delete process.env.REDIS_URL);

    it('uses REDIS_URL and refuses to control it', async () => {
      const external = await startRedis();
      expect(external).toMatchObject({ source: 'REDIS_URL', controllable: false, host: redis.host, port: redis.port });
      await expect(ask(external.host, external.port, 'GET', 'harness:greeting')).resolves.toBe('hello');
      await expect(external.interrupt()).rejects.toThrow(/REDIS_URL.*controllable: true/);
      await expect(external.resume()).rejects.toThrow(/not controlled/);
      await external.stop();
      await expect(ask(redis.host, redis.port, 'PING')).resolves.toBe('PONG');
    });

    it('starts its own Redis when controllable is requested', async () => {
      const own = await startRedis({ controllable: true });
      try {
        expect(own.source).not.toBe('REDIS_URL');
        expect(own.port).not.toBe(redis.port);
      } finally {
        await own.stop();
      }
    });
  });

  it('stop is idempotent and the server is gone afterwards', async () => {
    const other = await startRedis({ controllable: true });
    await other.stop();
    await other.stop();
    await expect(ask(other.host, other.port, 'PING')).rejects.toThrow(/ECONNREFUSED/);
    await expect(other.resume()).rejects.toThrow(/stopped for good/);
  });
});

describe('launchRedisServer failures', () => {
  it.each([
    { problem: 'a bad option', args: ['--no-such-directive', 'yes'], log: /Bad directive/ },
    { problem: 'a port in use', args: [], log: /Address already in use/, occupyPort: true },
  ])('report $problem with the tail of the server log', async ({ args, log, occupyPort }) => {
    const dir = await makeTempDir('failing');
    const [port] = await freePorts(1);
    // Holds the connections it accepts (the launcher's PING probes) without a word, as a port's other owner would.
    const held = new Set<Socket>();
    const squatter = createServer((socket) => held.add(socket));
    if (occupyPort) await new Promise<void>((resolve) => squatter.listen(port, LOCALHOST, resolve));
    try {
      const launch = launchRedisServer({ port, dir, args });
      await expect(launch).rejects.toThrow(/exited with code 1 before answering PING/);
      await expect(launch).rejects.toThrow(log);
    } finally {
      // close() leaves accepted connections open, and one nobody reads keeps Jest's worker alive.
      for (const socket of held) socket.destroy();
      squatter.close();
      await removeTempDir(dir);
    }
  });
});

describe('onFreePorts', () => {
  it('starts again on other ports when a server found its port taken, and only then', async () => {
    const tried: number[][] = [];
    const started = await onFreePorts(2, (ports) => {
      tried.push(ports);
      return tried.length === 1 ? Promise.reject(new Error('redis-server exited: Address already in use')) : Promise.resolve('up');
    });
    expect(started).toBe('up');
    expect(tried).toHaveLength(2);

    let calls = 0;
    const badOption = onFreePorts(1, () => {
      calls++;
      return Promise.reject(new Error('Bad directive'));
    });
    await expect(badOption).rejects.toThrow('Bad directive');
    expect(calls).toBe(1);

    let taken = 0;
    const alwaysTaken = onFreePorts(1, () => {
      taken++;
      return Promise.reject(new Error('Address already in use'));
    });
    await expect(alwaysTaken).rejects.toThrow('Address already in use');
    expect(taken).toBe(3);
  });
});

describe('Docker detection', () => {
  it('answers within a few seconds and decides the fallback', async () => {
    const started = Date.now();
    const available = await probeDocker();
    expect(Date.now() - started).toBeLessThan(5_000);

    const redis = await startRedis({ controllable: true });
    try {
      expect(redis.source).toBe(available ? 'testcontainers' : 'redis-server');
    } finally {
      await redis.stop();
    }
  });
});

describe('with no REDIS_URL, no Docker and no redis-server on PATH', () => {
  withEnv({ REDIS_URL: undefined, PATH: '/nonexistent-harness-path' });

  it('fails with one error naming all three ways to get a Redis', async () => {
    // Only meaningful where Docker is absent; with Docker the container path is taken instead.
    if (await dockerAvailable()) return;
    const failure = startRedis();
    await expect(failure).rejects.toThrow(/REDIS_URL/);
    await expect(failure).rejects.toThrow(/Docker engine/);
    await expect(failure).rejects.toThrow(/install redis-server/);
  });

  it('reports sentinel and cluster as unavailable, with the reason', () => {
    expect(topologyAvailable()).toEqual({ sentinel: false, cluster: false, reason: expect.stringMatching(/redis-server/) });
  });
});

interface Topology {
  kind: string;
  available: boolean;
  start(): Promise<{ connect(): Redis | Cluster; stop(): Promise<void> }>;
}

const topologies: Topology[] = [
  {
    kind: 'standalone',
    available: true,
    start: async () => {
      const redis = await startRedis();
      return { connect: () => new Redis(redis.url), stop: () => redis.stop() };
    },
  },
  {
    kind: 'sentinel',
    available: topology.sentinel,
    start: async () => {
      const setup = await startSentinelSetup();
      const [sentinel] = setup.sentinels;
      const reply = await ask(sentinel.host, sentinel.port, 'SENTINEL', 'get-master-addr-by-name', setup.name);
      expect(reply).toEqual([setup.master.host, String(setup.master.port)]);
      return { connect: () => new Redis({ sentinels: setup.sentinels, name: setup.name }), stop: setup.stop };
    },
  },
  {
    kind: 'cluster',
    available: topology.cluster,
    start: async () => {
      const cluster = await startCluster();
      return { connect: () => new Redis.Cluster(cluster.nodes), stop: cluster.stop };
    },
  },
];

// Jest has no skip reason, so an unavailable topology carries it in its title.
const titled = topologies.map((t) => ({ ...t, title: t.available ? t.kind : `${t.kind} (skipped: ${topology.reason})` }));

describe.each(titled)('$title topology', ({ kind, available, start }) => {
  const maybe = available ? it : it.skip;
  const prefix = uniquePrefix(kind);
  let setup: Awaited<ReturnType<Topology['start']>> | undefined;
  let client: Redis | Cluster;

  beforeAll(async () => {
    setup = await start();
    client = setup.connect();
  });
  afterAll(async () => {
    // The standalone case may be a shared REDIS_URL instance.
    if (client) await deleteByPrefix(client, prefix);
    await client?.quit();
    await setup?.stop();
  });

  maybe('writes 50 keys and reads them back', async () => {
    const keys = Array.from({ length: 50 }, (_, i) => `${prefix}${i}`);
    await Promise.all(keys.map((key, i) => client.set(key, String(i))));
    await expect(Promise.all(keys.map((key) => client.get(key)))).resolves.toEqual(keys.map((_, i) => String(i)));

    if (client instanceof Cluster) {
      const perMaster = await Promise.all(client.nodes('master').map((node) => node.dbsize()));
      expect(perMaster).toHaveLength(3);
      perMaster.forEach((count) => expect(count).toBeGreaterThan(0));
    }
  });

  // The servers a topology starts are the engine on PATH: what lets `npm run test:engines` swap engines.
  maybe('runs every server on the engine the run asked for', async () => {
    // A shared REDIS_URL instance is whatever its owner runs, and a container is its image's engine.
    if (kind === 'standalone' && (process.env.REDIS_URL || (await dockerAvailable()))) return;
    const nodes = client instanceof Cluster ? client.nodes('all') : [client];
    const engines = await Promise.all(nodes.map(async (node) => engineOfInfo(await node.info('server'))));
    expect(new Set(engines)).toEqual(new Set([expectedEngine()]));
  });

  maybe('deleteByPrefix removes its own prefix only', async () => {
    const mine = `${prefix}mine:`;
    const theirs = `${prefix}theirs:`;
    await Promise.all(Array.from({ length: 20 }, (_, i) => client.set(`${mine}${i}`, 'x')));
    await client.set(`${theirs}kept`, 'x');

    await expect(deleteByPrefix(client, mine)).resolves.toBe(20);
    await expect(client.exists(`${mine}0`)).resolves.toBe(0);
    await expect(client.get(`${theirs}kept`)).resolves.toBe('x');
  });
});

describe('CommandRecorder', () => {
  let redis: RedisServerHandle;
  let app: Redis;
  let recorder: CommandRecorder;
  const prefix = uniquePrefix('recorder');
  // Starts like the prefix but is not under it: only whole-prefix matches count.
  const nearMiss = `${prefix.slice(0, -1)}-other:key`;
  const script = `redis.call('HSET', KEYS[1], 'from-lua', ARGV[1]); return redis.call('HGET', KEYS[1], 'from-lua')`;

  beforeAll(async () => {
    redis = await startRedis();
    app = new Redis(redis.url);
    recorder = await CommandRecorder.start(redis.url, { keyPrefix: prefix });
  });
  afterAll(async () => {
    await recorder?.stop();
    if (app) await Promise.all([deleteByPrefix(app, prefix), app.del(nearMiss)]);
    app?.disconnect();
    await redis?.stop();
  });
  beforeEach(() => recorder.reset());

  it('records top-level commands on the prefix, not those of other prefixes or inside Lua', async () => {
    const sha = String(await app.script('LOAD', script));
    await app.hset(`${prefix}session`, 'user', 'ada');
    await app.set(nearMiss, 'ignored');
    await app.evalsha(sha, 1, `${prefix}session`, 'v1');

    await expect(recorder.settle()).resolves.toEqual([
      { name: 'HSET', args: [`${prefix}session`, 'user', 'ada'] },
      { name: 'EVALSHA', args: [sha, '1', `${prefix}session`, 'v1'] },
    ]);
  });

  it('forgets what it saw on reset', async () => {
    await app.hget(`${prefix}session`, 'user');
    await recorder.settle();
    recorder.reset();
    expect(recorder.commands()).toEqual([]);

    await app.hgetall(`${prefix}session`);
    await expect(recorder.settle()).resolves.toEqual([{ name: 'HGETALL', args: [`${prefix}session`] }]);
  });
});

describe('openMonitor', () => {
  let redis: RedisServerHandle;
  let busy: Redis;
  let probe: Redis;

  beforeAll(async () => {
    redis = await startRedis();
    busy = new Redis(redis.url);
    probe = new Redis(redis.url);
  });
  afterAll(async () => {
    busy?.disconnect();
    probe?.disconnect();
    await redis?.stop();
  });

  // ioredis's own monitor() fails almost every time here: another client's command lands in the
  // tick between MONITOR's OK and ioredis entering monitoring mode.
  it('opens while another client keeps Redis busy, and sees every command sent after it resolved', async () => {
    let flooding = true;
    const flood = (async () => {
      while (flooding) await Promise.all(Array.from({ length: 20 }, () => busy.ping('flood')));
    })();
    try {
      for (let attempt = 0; attempt < 20; attempt++) {
        const marker = `monitor-marker-${attempt}`;
        let seenMarker!: () => void;
        const seen = new Promise<void>((resolve) => (seenMarker = resolve));
        const monitor = await openMonitor(redis.url, (_time, [command, argument]) => {
          if (command === 'ping' && argument === marker) seenMarker();
        });
        try {
          await probe.ping(marker);
          await seen;
        } finally {
          monitor.disconnect();
        }
      }
    } finally {
      flooding = false;
      await flood;
    }
  });

  it('rejects with the connection error when nothing listens on the port', async () => {
    const [port] = await freePorts(1);
    await expect(openMonitor({ host: LOCALHOST, port, retryStrategy: () => null }, () => undefined)).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('startRedis with TLS', () => {
  const missing = opensslMissingReason() ?? redisServerMissingReason();
  const itWithTls = missing ? it.skip : it;
  let certificates: TestCertificates;
  let redis: RedisServerHandle;

  beforeAll(async () => {
    if (missing) return;
    certificates = await makeTestCertificates();
    redis = await startRedis({ tls: certificates });
  });
  afterAll(() => redis?.stop());

  itWithTls('serves TLS only, with a certificate its own CA checks out for 127.0.0.1', async () => {
    expect(redis.url).toBe(`rediss://${LOCALHOST}:${redis.port}`);
    await expect(askOver({ host: LOCALHOST, port: redis.port, tls: certificates.clientTls }, 'PING')).resolves.toBe('PONG');
    // No plain-text port: a client without TLS gets no answer from the TLS port.
    await expect(ask(LOCALHOST, redis.port, 'PING')).rejects.toThrow();
  });

  itWithTls("refuses a client that trusts another CA: the server's certificate is checked", async () => {
    const stranger = await makeTestCertificates('tls-stranger');
    await expect(askOver({ host: LOCALHOST, port: redis.port, tls: stranger.clientTls }, 'PING')).rejects.toThrow(/certificate/);
  });
});
