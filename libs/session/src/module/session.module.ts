import { Inject, Logger, Module, RequestMethod, type MiddlewareConsumer, type NestModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost, type AbstractHttpAdapter } from '@nestjs/core';
import type { NextFunction, Request, Response } from 'express';
import type { FastifyInstance } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { SESSION_OPTIONS, SESSION_REDIS } from '../session.constants';
import { SessionConfigError } from '../errors/session-config.error';
import type { ResolvedSessionOptions } from '../options/resolved-options';
import { whenReady, type SessionRedisConnection } from '../redis/create-redis-connection';
import { assertRedisPermissions, type PermissionScope } from '../redis/check-redis-permissions';
import { messages } from '../errors/session.messages';
import { ExpressPlatform } from '../request/express-platform';
import { FastifyPlatform } from '../request/fastify-platform';
import type { HttpPlatform } from '../request/http-platform';
import { SessionLifecycle } from '../request/session-lifecycle';
import { SessionRenewal } from '../renewal/session-renewal';
import { SessionService } from '../service/session.service';
import { RedisSessionStore } from '../store/redis-session-store';
import { SessionTelemetry } from '../observe/session-telemetry';
import { SessionEvents } from '../events/session-events';
import { SessionEventFeeds } from '../events/session-event-feeds';
import { ConfigurableSessionModule } from './session.module-definition';
import { SESSION_REDIS_CONNECTION, sessionProviders } from './session.providers';
import { SessionStack } from './session-stack';

/** The HTTP adapters the module runs on, by `getType()`. */
const PLATFORMS = new Set(['express', 'fastify']);

/**
 * Sessions in Redis for every replica of a Nest app on Express or Fastify.
 * @example
 * SessionModule.forRoot({ secret: process.env.SESSION_SECRET!, redis: 'redis://localhost:6379' })
 */
@Module({
  providers: [...sessionProviders, SessionService],
  exports: [SessionService, SessionEvents, RedisSessionStore, SESSION_REDIS, SESSION_OPTIONS],
})
export class SessionModule extends ConfigurableSessionModule implements NestModule, OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('SessionModule');
  /** Built once an HTTP adapter is known: at app creation, or (from @nestjs/testing) in `configure`. */
  private lifecycle?: SessionLifecycle;
  private mountedOnEveryRoute = false;
  private platform?: HttpPlatform;
  /** Armed when Redis was out of reach at boot; removed at shutdown from a client that outlives the module. */
  private checkWhenReady?: () => void;

  /** @internal Nest's dependency injection builds the module. */
  constructor(
    @Inject(SESSION_OPTIONS) private readonly options: ResolvedSessionOptions,
    @Inject(SESSION_REDIS_CONNECTION) private readonly connection: SessionRedisConnection,
    private readonly store: RedisSessionStore,
    private readonly stack: SessionStack,
    private readonly adapterHost: HttpAdapterHost,
    private readonly telemetry: SessionTelemetry,
    private readonly eventFeeds: SessionEventFeeds,
  ) {
    super();
    // NestFactory.create hands the HTTP adapter to the container before it instantiates modules, so
    // mounting here puts session handling ahead of everything main.ts adds with app.use() after
    // create (passport.initialize(), passport.session()) and of Nest's body parser.
    const adapter = this.adapterHost?.httpAdapter;
    // Another adapter is refused in configure(), where it always has been.
    if (adapter && PLATFORMS.has(adapter.getType()) && this.everyRoute()) this.mountOnEveryRoute(adapter, false);
  }

  configure(consumer: MiddlewareConsumer): void {
    const adapter = this.httpAdapter();
    if (!adapter) return; // an application context without HTTP: nothing to mount
    if (this.everyRoute()) {
      // @nestjs/testing builds the modules before the adapter exists: mount now, after main-style app.use() calls.
      if (!this.mountedOnEveryRoute) this.mountOnEveryRoute(adapter, true);
      return;
    }
    const lifecycle = this.lifecycleFor(adapter, true);
    const platform = this.platform;
    // Nest's middleware sees Fastify's raw request: it only marks the route, and the platform's hook that
    // comes after Nest middleware runs the way in on the request Fastify's handlers get.
    if (platform instanceof FastifyPlatform) platform.mountWayIn((req, next) => lifecycle.handle(req, next), true);
    const middleware =
      platform instanceof FastifyPlatform
        ? function nestRedisSession(req: IncomingMessage, _res: unknown, next: NextFunction): void {
            platform.markRouted(req);
            next();
          }
        : function nestRedisSession(req: Request, _res: Response, next: NextFunction): void {
            lifecycle.handle(req, next);
          };
    consumer
      .apply(middleware)
      .exclude(...this.options.exclude)
      .forRoutes(...(this.options.forRoutes ?? [{ path: '*', method: RequestMethod.ALL }]));
  }

  /** The Express or Fastify adapter, undefined without HTTP (or before @nestjs/testing created it); anything else is refused. */
  private httpAdapter(): AbstractHttpAdapter | undefined {
    const adapter = this.adapterHost?.httpAdapter;
    if (adapter && !PLATFORMS.has(adapter.getType())) {
      throw new SessionConfigError('http adapter', `must be Express or Fastify; got "${adapter.getType()}"`);
    }
    return adapter;
  }

  private everyRoute(): boolean {
    return !this.options.forRoutes && this.options.exclude.length === 0;
  }

  /**
   * Straight on Express, or as Fastify's `onRequest` hook: both cost measurably less per request than
   * Nest's route-matching consumer.
   */
  private mountOnEveryRoute(adapter: AbstractHttpAdapter, late: boolean): void {
    const lifecycle = this.lifecycleFor(adapter, late);
    if (this.platform instanceof FastifyPlatform) {
      this.platform.mountWayIn((req, next) => lifecycle.handle(req, next), false);
    } else {
      adapter.use(function nestRedisSession(req: Request, _res: Response, next: NextFunction): void {
        lifecycle.handle(req, next);
      });
    }
    this.mountedOnEveryRoute = true;
  }

  /** The adapter's platform: Fastify's by the adapter's type, Express's otherwise (the only other one let in). */
  private platformFor(adapter: AbstractHttpAdapter): HttpPlatform {
    this.platform ??=
      adapter.getType() === 'fastify'
        ? new FastifyPlatform(adapter.getInstance<FastifyInstance>())
        : new ExpressPlatform(adapter.getInstance<{ request: object; response: object }>());
    return this.platform;
  }

  private lifecycleFor(adapter: AbstractHttpAdapter, mountedLate: boolean): SessionLifecycle {
    const { cookie, secrets, trustProxy, idFrom } = this.options;
    const { core } = this.stack;
    this.lifecycle ??= new SessionLifecycle(
      {
        secrets,
        trustProxy,
        mountedLate,
        cookie: definedOnly(cookie),
        idFrom: idFrom.header === undefined ? 'cookie' : idFrom.cookie ? 'both' : 'header',
        header: idFrom.header,
      },
      this.store,
      core,
      this.platformFor(adapter),
      this.logger,
      this.options.renewal ? new SessionRenewal(core) : undefined,
    );
    return this.lifecycle;
  }

  async onModuleInit(): Promise<void> {
    const { client } = this.connection;
    const wait = Math.max(this.options.redisDeadline, 2_000);
    if (!(await whenReady(client, wait))) {
      this.logger.warn('Redis is not reachable yet; requests that need their session answer 503 until it is');
      // The app boots without Redis; the user's rights are checked once it connects, and only logged.
      this.checkWhenReady = () => void this.checkPermissions(wait).catch((error: Error) => this.logger.error(error.message));
      client.once('ready', this.checkWhenReady);
      // Unreachable Redis was waited for once already: the event subscriptions follow when it answers.
      await this.eventFeeds.start(0);
      return;
    }
    await this.checkPermissions(wait);
    await this.eventFeeds.start(wait);
  }

  /**
   * Fails boot with a `SessionConfigError` naming each command the Redis user may not run, rather than
   * failing requests later; one script, one round trip per master. Other failures are only logged.
   */
  private async checkPermissions(timeoutMs: number): Promise<void> {
    const scope: PermissionScope = {
      prefix: this.options.prefix,
      durability: !!this.options.durability,
      metrics: !!this.options.metrics,
      nearCache: !!this.options.nearCache,
      crossReplicaEvents: this.options.events.crossReplica,
      expiredEvents: this.options.events.expired,
    };
    try {
      await assertRedisPermissions(this.connection.client, scope, timeoutMs);
    } catch (error) {
      if (error instanceof SessionConfigError) throw error;
      this.logger.warn(messages.redisPermissionsUnchecked((error as Error)?.message ?? String(error)));
    }
    this.stack.nearCache?.start(); // serves once Redis's invalidations are armed; until then every read goes to Redis
  }

  async onApplicationShutdown(): Promise<void> {
    await this.telemetry.close().catch(() => undefined);
    this.stack.nearCache?.close();
    await this.eventFeeds.close().catch(() => undefined); // its connections are always the module's own
    await this.stack.core.gateway.close(); // the durability connection is always the module's own
    const { client, owned } = this.connection;
    if (this.checkWhenReady) client.off('ready', this.checkWhenReady);
    if (!owned || client.status === 'end') return; // a client passed in stays open: it is the caller's
    // QUIT resolves on Redis' reply; wait for the socket itself so nothing is left open at exit.
    const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
    await client.quit().catch(() => client.disconnect());
    await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
  }
}

/** Drops undefined entries: express-session's Cookie would turn `maxAge: undefined` into a setting. */
function definedOnly<T extends object>(value: T): T & Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T & Record<string, unknown>;
}
