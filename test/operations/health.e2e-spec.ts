import { Controller, Get, Module, type INestApplication } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import Redis from 'ioredis';
import { SessionModule } from '@app/session';
import { SessionHealthIndicator, type SessionHealthOptions } from '@app/session/health';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { createNestApp } from '../support/http-platform';
import { freePorts, LOCALHOST } from '../support/ports';
import { launchRedisServer, type RedisProcess } from '../support/processes';
import { makeTempDir, removeTempDir } from '../support/temp-dirs';
import { uniquePrefix } from '../support/prefix';
import { TEST_SECRET } from '../session/support/session-app';

/** What the session indicator reports (terminus' details). */
interface SessionIndicator {
  status: string;
  message?: string;
  warning?: string;
  pingMs?: number;
  role?: string;
  maxmemoryPolicy?: string;
}

interface HealthAnswer {
  status: number;
  body: { status: string; info?: Record<string, SessionIndicator>; error?: Record<string, SessionIndicator>; details: Record<string, SessionIndicator> };
  ms: number;
}

/** A Terminus health endpoint backed by SessionHealthIndicator, as an app would write it. */
async function healthApp(redisUrl: string, options: SessionHealthOptions = {}): Promise<{ app: INestApplication; check(): Promise<HealthAnswer> }> {
  @Controller('health')
  class HealthController {
    constructor(
      private readonly health: HealthCheckService,
      private readonly session: SessionHealthIndicator,
    ) {}

    @Get()
    @HealthCheck()
    check() {
      return this.health.check([() => this.session.isHealthy('session', options)]);
    }
  }
  @Module({
    imports: [TerminusModule.forRoot({ logger: false }), SessionModule.forRoot({ secret: TEST_SECRET, redis: redisUrl, prefix: uniquePrefix('health') })],
    controllers: [HealthController],
    providers: [SessionHealthIndicator],
  })
  class HealthAppModule {}
  const app = await createNestApp(HealthAppModule, { logger: false });
  await app.listen(0, LOCALHOST);
  const url = (await app.getUrl()).replace('[::1]', LOCALHOST);
  return {
    app,
    async check() {
      const started = Date.now();
      const res = await fetch(`${url}/health`);
      return { status: res.status, body: (await res.json()) as HealthAnswer['body'], ms: Date.now() - started };
    },
  };
}

describe('SessionHealthIndicator', () => {
  let redis: RedisServerHandle;
  let admin: Redis;
  beforeAll(async () => {
    redis = await startRedis({ controllable: true });
    admin = new Redis(redis.url);
  });
  afterAll(async () => {
    admin?.disconnect();
    await redis?.stop();
  });

  it('is up with PING latency, role and eviction policy while Redis serves', async () => {
    const { app, check } = await healthApp(redis.url);
    try {
      const { status, body } = await check();
      expect(status).toBe(200);
      expect(body.details.session).toMatchObject({ status: 'up', role: 'master', maxmemoryPolicy: 'noeviction' });
      expect(body.details.session.pingMs).toEqual(expect.any(Number));
    } finally {
      await app.close();
    }
  });

  describe('with an evicting maxmemory-policy', () => {
    beforeAll(() => admin.config('SET', 'maxmemory-policy', 'allkeys-lru'));
    afterAll(() => admin.config('SET', 'maxmemory-policy', 'noeviction'));

    it('is down and says why', async () => {
      const { app, check } = await healthApp(redis.url);
      try {
        const { status, body } = await check();
        expect(status).toBe(503);
        expect(body.details.session).toMatchObject({ status: 'down', maxmemoryPolicy: 'allkeys-lru' });
        expect(body.details.session.message).toMatch(/maxmemory-policy is "allkeys-lru".*evicts live sessions/);
      } finally {
        await app.close();
      }
    });

    it('is up with a warning where the app accepts eviction', async () => {
      const { app, check } = await healthApp(redis.url, { evictionPolicy: 'warn' });
      try {
        const { status, body } = await check();
        expect(status).toBe(200);
        expect(body.details.session).toMatchObject({ status: 'up', maxmemoryPolicy: 'allkeys-lru' });
        expect(body.details.session.warning).toMatch(/allkeys-lru/);
      } finally {
        await app.close();
      }
    });
  });

  it('answers down within its timeout while Redis hangs', async () => {
    const { app, check } = await healthApp(redis.url, { timeout: 300 });
    try {
      expect((await check()).status).toBe(200);
      await admin.client('PAUSE', 3_000, 'ALL');
      const { status, body, ms } = await check();
      expect(status).toBe(503);
      expect(body.details.session.message).toMatch(/did not answer the health check within 300 ms/);
      expect(ms).toBeLessThan(2_500); // well before Redis comes back
    } finally {
      await admin.client('UNPAUSE');
      await app.close();
    }
  });

  it('is down while Redis is unreachable, and up again once it is back', async () => {
    const { app, check } = await healthApp(redis.url);
    try {
      await redis.interrupt();
      const { status, body } = await check();
      expect(status).toBe(503);
      expect(body.details.session.status).toBe('down');
      await redis.resume();
      await waitFor(async () => (await check()).status === 200);
    } finally {
      await app.close();
    }
  });

  describe('on a read-only replica (a failover left the app pointing at it)', () => {
    let replica: RedisProcess;
    let dir: string;
    let port: number;
    beforeAll(async () => {
      dir = await makeTempDir('health-replica');
      [port] = await freePorts(1);
      replica = await launchRedisServer({ port, dir, args: ['--replicaof', redis.host, String(redis.port)] });
    });
    afterAll(async () => {
      await replica?.stop();
      await removeTempDir(dir);
    });

    it('is down', async () => {
      const { app, check } = await healthApp(`redis://${LOCALHOST}:${port}`);
      try {
        const { status, body } = await check();
        expect(status).toBe(503);
        expect(body.details.session).toMatchObject({ status: 'down', role: 'slave' });
        expect(body.details.session.message).toMatch(/read-only replica/);
      } finally {
        await app.close();
      }
    });
  });
});

async function waitFor(condition: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
