import { Controller, Get, Injectable, Module, Req } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import type { Request } from 'express';
import Redis from 'ioredis';
import { SESSION_REDIS, SessionConfigError, SessionModule, SessionService, type SessionModuleOptions } from '@app/session';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { createNestApp } from '../support/http-platform';
import { Visitor } from './support/http-client';
import { TEST_SECRET } from './support/session-app';

/** How the module is wired into an app: forRoot, forRootAsync, isGlobal, and who owns the client. */
describe('SessionModule wiring', () => {
  let redis: RedisServerHandle;

  beforeAll(async () => {
    redis = await startRedis();
  });

  afterAll(async () => {
    await redis?.stop();
  });

  /** A feature module that does not import SessionModule itself: it needs isGlobal. */
  @Injectable()
  class CartReader {
    constructor(readonly sessions: SessionService) {}
  }

  @Controller()
  class ProbeController {
    constructor(private readonly reader: CartReader) {}

    @Get('token')
    async token(@Req() req: Request) {
      return { token: await this.reader.sessions.csrfToken(req) };
    }
  }

  @Module({ providers: [CartReader], controllers: [ProbeController] })
  class FeatureModule {}

  async function boot(sessionModule: unknown) {
    @Module({ imports: [sessionModule as never, FeatureModule] })
    class AppModule {}
    const app = await createNestApp(AppModule, { logger: false, abortOnError: false });
    await app.listen(0, '127.0.0.1');
    return app;
  }

  it('works with forRoot({ isGlobal: true }) from a module that does not import it', async () => {
    const app = await boot(SessionModule.forRoot({ secret: TEST_SECRET, redis: redis.url, prefix: uniquePrefix('root'), isGlobal: true }));
    try {
      const visitor = new Visitor(await app.getUrl());
      const first = await visitor.get('/token');
      expect(first.status).toBe(200);
      expect(first.setCookie).toMatch(/^sid=s%3A/);
      expect(first.setCookie).toMatch(/HttpOnly/);
      expect(first.setCookie).toMatch(/SameSite=Lax/);
      expect(first.setCookie).toMatch(/Path=\//);
      expect(first.setCookie).not.toMatch(/Expires|Max-Age/); // a browser-session cookie by default
      expect((await visitor.get('/token')).body.token).toBe(first.body.token);
    } finally {
      await app.close();
    }
  });

  it('fails to resolve SessionService in another module without isGlobal', async () => {
    // A boot that fails runs no shutdown hook: with a client of the module's own, its socket would
    // outlive the test (and keep an in-band jest run from exiting). This one is the test's to close.
    const client = new Redis(redis.url, { lazyConnect: true });
    try {
      await expect(boot(SessionModule.forRoot({ secret: TEST_SECRET, redis: client }))).rejects.toThrow(/SessionService/);
    } finally {
      client.disconnect();
    }
  });

  it('takes its options from ConfigService with forRootAsync', async () => {
    const prefix = uniquePrefix('async');
    const app = await boot(
      SessionModule.forRootAsync({
        isGlobal: true,
        imports: [ConfigModule.forRoot({ ignoreEnvFile: true, load: [() => ({ SECRET: TEST_SECRET, URL: redis.url, COOKIE: 'shop.sid' })] })],
        inject: [ConfigService],
        useFactory: (config: ConfigService): SessionModuleOptions => ({
          secret: config.getOrThrow('SECRET'),
          redis: config.getOrThrow('URL'),
          prefix,
          cookie: { name: config.getOrThrow('COOKIE') },
        }),
      }),
    );
    const admin = new Redis(redis.url);
    try {
      const res = await new Visitor(await app.getUrl()).get('/token');
      expect(res.setCookie).toMatch(/^shop\.sid=/);
      expect(await admin.keys(`${prefix}*`)).toHaveLength(1);
    } finally {
      admin.disconnect();
      await app.close();
    }
  });

  it('accepts useClass for forRootAsync', async () => {
    @Injectable()
    class SessionConfig {
      create(): SessionModuleOptions {
        return { secret: TEST_SECRET, redis: redis.url, prefix: uniquePrefix('class') };
      }
    }
    const app = await boot(SessionModule.forRootAsync({ isGlobal: true, useClass: SessionConfig }));
    try {
      expect((await new Visitor(await app.getUrl()).get('/token')).status).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('closes the client it created, and leaves open a client passed in', async () => {
    const own = await boot(SessionModule.forRoot({ secret: TEST_SECRET, redis: redis.url, isGlobal: true }));
    const created = own.get<Redis>(SESSION_REDIS);
    expect(created.status).toBe('ready');
    await own.close();
    expect(['end', 'close']).toContain(created.status);

    const mine = new Redis(redis.url);
    const borrowed = await boot(SessionModule.forRoot({ secret: TEST_SECRET, redis: mine, isGlobal: true }));
    expect(borrowed.get(SESSION_REDIS)).toBe(mine);
    await borrowed.close();
    expect(mine.status).toBe('ready');
    expect(await mine.ping()).toBe('PONG');
    mine.disconnect();
  });

  it.each<[string, Partial<SessionModuleOptions>, RegExp]>([
    ['a short secret', { secret: 'too-short' }, /"secret" must be a string of at least 32 characters/],
    ['a short secret in a rotation list', { secret: [TEST_SECRET, 'old'] }, /"secret\[1\]"/],
    ['a bad Redis URL', { redis: 'http://localhost' }, /"redis" must be a redis:\/\/ or rediss:\/\/ URL/],
    ['a bad idle timeout', { idleTimeout: -5 }, /"idleTimeout" must be a positive whole number of milliseconds/],
    ['a bad sameSite', { cookie: { sameSite: 'sometimes' as never } }, /"cookie.sameSite" must be one of/],
    ['a bad limit policy', { users: { maxSessions: 3, onLimit: 'drop' as never } }, /"users.onLimit" must be one of/],
    ['a limit policy without a limit', { users: { onLimit: 'reject' } }, /"users.onLimit" only applies with "users.maxSessions"/],
    [
      'an unknown option (a name from before 1.0)',
      { commandTimeout: 500 } as Partial<SessionModuleOptions>,
      /"commandTimeout" is not an option of SessionModule/,
    ],
  ])('refuses to boot with %s, naming the option', async (_case, bad, message) => {
    const options = { secret: TEST_SECRET, redis: redis.url, ...bad };
    const failure = boot(SessionModule.forRoot({ ...options, isGlobal: true }));
    await expect(failure).rejects.toBeInstanceOf(SessionConfigError);
    await expect(failure).rejects.toThrow(message);
  });
});
