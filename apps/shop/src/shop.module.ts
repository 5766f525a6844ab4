import { Logger, Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule, ConfigService, registerAs } from '@nestjs/config';
import { APP_GUARD } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { SessionHealthIndicator } from '@app/session/health';
import { AuthenticatedGuard, CsrfGuard, SessionModule, type SessionRedisOption } from '@app/session';
import { AuthController } from './auth/auth.controller';
import { FailedLoginLimiter } from './auth/failed-login-limiter';
import { SessionsController } from './auth/sessions.controller';
import { UserDirectory } from './auth/user-directory';
import { CartController } from './cart/cart.controller';
import { EventsController } from './events/events.controller';
import { RecentSessionEvents } from './events/recent-session-events';
import { ProductsController } from './catalog/products.controller';
import { SHOP_CONFIG, type ShopConfig, type ShopRedis } from './config/shop-config';
import { HealthController } from './health/health.controller';
import { MetricsController } from './metrics/metrics.controller';
import { createMetricsRegistry, METRICS_REGISTRY } from './metrics/metrics-registry';

@Module({})
export class ShopModule {
  /**
   * The whole shop with `config` (from `loadShopConfig`). Taking the settings rather than reading
   * process.env lets tests run several replicas, each with its own settings, in one process.
   */
  static forRoot(config: ShopConfig): DynamicModule {
    const registry = createMetricsRegistry();
    return {
      module: ShopModule,
      imports: [
        ConfigModule.forRoot({
          isGlobal: true,
          ignoreEnvFile: true,
          // Only the settings given: replicas sharing one process must not see each other's env.
          skipProcessEnv: true,
          load: [registerAs(SHOP_CONFIG, () => config)],
        }),
        SessionModule.forRootAsync({
          inject: [ConfigService],
          useFactory: (configService: ConfigService) => {
            const shop = configService.getOrThrow<ShopConfig>(SHOP_CONFIG);
            if (shop.usesDevSecret) {
              new Logger('ShopConfig').warn('SESSION_SECRET is not set: using a fixed development secret. Set it in production.');
            }
            if (shop.usesDevEncryptionKey) {
              new Logger('ShopConfig').warn('SESSION_ENCRYPTION_KEYS is not set: sessions are sealed with a fixed development key. Set it in production.');
            }
            return {
              secret: shop.sessionSecrets,
              redis: sessionRedisOption(shop.redis),
              encryption: { keys: shop.sessionEncryptionKeys },
              // 'both': browsers keep the cookie; apps and scripts without cookies send X-Session-Token (shop-api.md).
              idFrom: 'both',
              metrics: { registry },
              // A warm page view costs no Redis round trip; Redis's invalidations keep the replicas coherent.
              nearCache: true,
              // Every replica hears every replica's session events: the page's live list is the same whichever answers.
              events: { crossReplica: true, replica: shop.replicaId },
              // A session's ID changes every 15 min (the old one works 1 min more): a stolen cookie or token does not last.
              renewal: true,
            };
          },
        }),
        TerminusModule.forRoot({ logger: false }),
      ],
      controllers: [AuthController, SessionsController, CartController, ProductsController, EventsController, HealthController, MetricsController],
      providers: [
        { provide: METRICS_REGISTRY, useValue: registry },
        SessionHealthIndicator,
        UserDirectory,
        FailedLoginLimiter,
        RecentSessionEvents,
        // Both guards on every route, closed by default: a route is public or CSRF-free only where it says so.
        // Authentication first, so a visitor who is not logged in hears 401 rather than 403.
        { provide: APP_GUARD, useClass: AuthenticatedGuard },
        { provide: APP_GUARD, useClass: CsrfGuard },
      ],
    };
  }
}

/** The session library's `redis` option for the Redis the environment named. */
function sessionRedisOption(redis: ShopRedis): SessionRedisOption {
  switch (redis.kind) {
    case 'url':
      return redis.url;
    case 'sentinel':
      return { sentinels: redis.sentinels, name: redis.name };
    case 'cluster':
      return { cluster: redis.nodes };
  }
}
