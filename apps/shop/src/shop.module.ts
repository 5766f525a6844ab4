import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { SessionHealthIndicator } from 'nest-redis-session/health';
import { AuthenticatedGuard, CsrfGuard, SessionModule } from 'nest-redis-session';
import { AuthController } from './auth/auth.controller';
import { FailedLoginLimiter } from './auth/failed-login-limiter';
import { SessionsController } from './auth/sessions.controller';
import { UserDirectory } from './auth/user-directory';
import { CartController } from './cart/cart.controller';
import { EventsController } from './events/events.controller';
import { RecentSessionEvents } from './events/recent-session-events';
import { ProductsController } from './catalog/products.controller';
import { sessionOptions } from './config/session-options';
import { ShopEnvironment } from './config/shop-environment';
import { HealthController } from './health/health.controller';
import { LiveCart } from './live/live-cart';
import { LiveGateway } from './live/live.gateway';
import { MetricsController } from './metrics/metrics.controller';
import { createMetricsRegistry, METRICS_REGISTRY } from './metrics/metrics-registry';

@Module({})
export class ShopModule {
  /**
   * The whole shop with `env` (from `validateShopEnvironment`). Taking the environment rather than
   * reading process.env lets tests run several replicas, each with its own, in one process.
   */
  static forRoot(env: ShopEnvironment): DynamicModule {
    const registry = createMetricsRegistry();
    return {
      module: ShopModule,
      imports: [
        // Built while the app is created, so that its development-value warnings follow the app's logger.
        SessionModule.forRootAsync({ useFactory: () => sessionOptions(env, registry) }),
        TerminusModule.forRoot({ logger: false }),
      ],
      controllers: [AuthController, SessionsController, CartController, ProductsController, EventsController, HealthController, MetricsController],
      providers: [
        { provide: ShopEnvironment, useValue: env },
        { provide: METRICS_REGISTRY, useValue: registry },
        SessionHealthIndicator,
        UserDirectory,
        FailedLoginLimiter,
        RecentSessionEvents,
        LiveCart,
        LiveGateway,
        // Both guards on every route, closed by default: a route is public or CSRF-free only where it says so.
        // Authentication first, so a visitor who is not logged in hears 401 rather than 403.
        { provide: APP_GUARD, useClass: AuthenticatedGuard },
        { provide: APP_GUARD, useClass: CsrfGuard },
      ],
    };
  }
}
