import { dockerAvailable, startRedisContainer } from './container';
import { freePorts, LOCALHOST } from './ports';
import { launchOnFreePort, launchRedisServer, RedisProcess, redisServerMissingReason } from './processes';
import { makeTempDir, removeTempDir } from './temp-dirs';
import type { TestCertificates } from './tls-certificates';

export interface RedisServerHandle {
  url: string;
  host: string;
  port: number;
  source: 'REDIS_URL' | 'testcontainers' | 'redis-server';
  /** true when the harness started this Redis and can stop/start it */
  controllable: boolean;
  /** Set when Redis takes TLS connections only (`url` is then `rediss://`): its certificates, CA included. */
  tls?: TestCertificates;
  /** Make Redis unreachable (connections refused), keeping its data. */
  interrupt(): Promise<void>;
  /** Bring it back on the same host:port with the same data; resolves when it answers PING. */
  resume(): Promise<void>;
  /** Stop for good and clean up temp folders. Idempotent. */
  stop(): Promise<void>;
}

/**
 * A Redis for one test file. An external REDIS_URL wins (it is how CI or a
 * developer points tests at a Redis they manage), unless the test needs to
 * interrupt Redis, which only a Redis started here allows.
 */
export async function startRedis(opts: { controllable?: boolean; tls?: TestCertificates } = {}): Promise<RedisServerHandle> {
  // TLS needs the certificates the test made: only a redis-server started here has them.
  if (opts.tls) return fromRedisServer(opts.tls);
  const external = process.env.REDIS_URL;
  if (external && !opts.controllable) return fromUrl(external);
  if (await dockerAvailable()) return fromContainer();
  const missing = redisServerMissingReason();
  if (!missing) return fromRedisServer();
  throw new Error(
    'No Redis available for tests. Do one of: set REDIS_URL=redis://host:port ' +
      '(tests that interrupt Redis cannot use it); start a Docker engine for testcontainers (none answered); ' +
      `install redis-server on PATH (${missing}).`,
  );
}

function fromUrl(url: string): RedisServerHandle {
  const parsed = new URL(url);
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(parsed.port || 6379);
  const refuse = () =>
    Promise.reject(
      new Error(
        `Redis at ${host}:${port} comes from REDIS_URL and is not controlled by the test harness; ` +
          'use startRedis({ controllable: true }) to interrupt or resume Redis.',
      ),
    );
  const stop = () => Promise.resolve();
  return { url, host, port, source: 'REDIS_URL', controllable: false, interrupt: refuse, resume: refuse, stop };
}

async function fromContainer(): Promise<RedisServerHandle> {
  const [hostPort] = await freePorts(1);
  const container = await startRedisContainer(hostPort);
  const { host, port } = container;
  return {
    url: `redis://${host}:${port}`,
    host,
    port,
    source: 'testcontainers',
    controllable: true,
    interrupt: () => container.interrupt(),
    resume: () => container.resume(),
    stop: () => container.stop(),
  };
}

async function fromRedisServer(tls?: TestCertificates): Promise<RedisServerHandle> {
  const dir = await makeTempDir('standalone');
  // The append-only file is what carries the data across interrupt/resume.
  const options = { dir, tls, args: ['--appendonly', 'yes'] };
  let server: RedisProcess | undefined;
  let stopped = false;
  try {
    server = await launchOnFreePort(options);
  } catch (error) {
    await removeTempDir(dir);
    throw error;
  }
  const port = server.port;
  const launch = () => launchRedisServer({ ...options, port });
  return {
    url: `${tls ? 'rediss' : 'redis'}://${LOCALHOST}:${port}`,
    host: LOCALHOST,
    port,
    source: 'redis-server',
    controllable: true,
    tls,
    async interrupt() {
      await server?.stop();
      server = undefined;
    },
    async resume() {
      if (stopped) throw new Error(`Redis on port ${port} was stopped for good; start a new one`);
      server ??= await launch();
    },
    async stop() {
      stopped = true;
      await server?.stop();
      server = undefined;
      await removeTempDir(dir);
    },
  };
}
