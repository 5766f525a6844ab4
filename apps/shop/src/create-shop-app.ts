import { Logger, type LoggerService, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { withSessions } from 'nest-redis-session';
import { BodyParserErrorsFilter } from './http/body-parser-errors.filter';
import { withVariableName } from './config/session-options';
import { validateShopEnvironment } from './config/shop-environment';
import { publicDir } from './http/public-dir';
import { replicaHeader } from './http/replica-header';
import { requestLog } from './http/request-log';
import { strictValidationPipe } from './http/validation-pipe';
import { ShopModule } from './shop.module';
import { countRequests } from './metrics/count-requests';
import { METRICS_REGISTRY } from './metrics/metrics-registry';
import { uplotDir } from './http/vendor-assets';

export interface CreateShopAppOptions {
  /** The variables to read (docs/shop-api.md lists them; `ShopEnvironment` checks them). @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Nest's logger setting; tests pass `false` or a few levels. @default Nest's default logger */
  logger?: LoggerService | LogLevel[] | false;
}

/** Builds the shop, ready to `listen`: used by main.ts and by tests that run replicas in-process. */
export async function createShopApp(options: CreateShopAppOptions = {}): Promise<NestExpressApplication> {
  // Checked before Nest starts, so a bad variable or a missing page ends in one clear message.
  const env = validateShopEnvironment(options.env ?? process.env);
  const assets = publicDir();
  const app = await NestFactory.create<NestExpressApplication>(ShopModule.forRoot(env), {
    logger: options.logger,
    // Errors reach the caller (main.ts prints them and exits 1) instead of aborting the process.
    abortOnError: false,
    // app.close() ends keep-alive connections too, so a replica stops at once.
    forceCloseConnections: true,
  }).catch((error: unknown) => {
    // SessionModule refused an option at boot: say which variable set it.
    throw withVariableName(error);
  });
  const replicaId = env.REPLICA_ID;
  // One load balancer or TLS proxy in front: its X-Forwarded-For/Proto give the client's IP and
  // scheme (device list, Secure cookie); anything further out could be forged by the client.
  app.set('trust proxy', 1);
  app.disable('x-powered-by');
  // Registered before Nest's own middleware, so they see every response, static files and errors too.
  app.use(replicaHeader(replicaId));
  app.use(requestLog(replicaId, new Logger()));
  app.use(countRequests(app.get(METRICS_REGISTRY)));
  app.useGlobalPipes(strictValidationPipe());
  app.useGlobalFilters(new BodyParserErrorsFilter(app.getHttpAdapter()));
  app.useStaticAssets(assets, { index: 'index.html' });
  // The operations panel's chart library, served from the installed package: the page loads nothing from a CDN.
  app.useStaticAssets(uplotDir(), { prefix: '/vendor/uplot/' });
  // The live channel (socket.io, /live) with the sessions of the handshake and their end.
  app.useWebSocketAdapter(withSessions(app, new IoAdapter(app)));
  return app;
}
