import { Logger, type INestApplication, type LoggerService, type LogLevel, type NestApplicationOptions } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { withSessions } from 'nest-redis-session';
import { BodyParserErrorsFilter } from './http/body-parser-errors.filter';
import { withVariableName } from './config/session-options';
import { validateShopEnvironment, type ShopEnvironment } from './config/shop-environment';
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

/**
 * Builds the shop, ready to `listen`, on the platform HTTP_PLATFORM names (Express by default): used
 * by main.ts and by tests that run replicas in-process.
 */
export async function createShopApp(options: CreateShopAppOptions = {}): Promise<INestApplication> {
  // Checked before Nest starts, so a bad variable or a missing page ends in one clear message.
  const env = validateShopEnvironment(options.env ?? process.env);
  const assets = publicDir();
  const nestOptions: NestApplicationOptions = {
    logger: options.logger,
    // Errors reach the caller (main.ts prints them and exits 1) instead of aborting the process.
    abortOnError: false,
    // app.close() ends keep-alive connections too, so a replica stops at once.
    forceCloseConnections: true,
  };
  const app = await (env.HTTP_PLATFORM === 'fastify' ? createOnFastify(env, nestOptions) : createOnExpress(env, nestOptions)).catch((error: unknown) => {
    // SessionModule refused an option at boot: say which variable set it.
    throw withVariableName(error);
  });
  // Registered before Nest's own middleware, so they see every response, static files and errors too
  // (on Fastify as Node's raw request and response, which is all they use).
  const replicaId = env.REPLICA_ID;
  for (const middleware of [replicaHeader(replicaId), requestLog(replicaId, new Logger()), countRequests(app.get(METRICS_REGISTRY))]) {
    app.use(middleware);
  }
  serveStaticFiles(app, env.HTTP_PLATFORM, assets);
  app.useGlobalPipes(strictValidationPipe());
  app.useGlobalFilters(new BodyParserErrorsFilter(app.getHttpAdapter()));
  // The live channel (socket.io, /live) with the sessions of the handshake and their end.
  app.useWebSocketAdapter(withSessions(app, new IoAdapter(app)));
  return app;
}

/** The page and, for the operations panel, the chart library from the installed package (nothing from a CDN). */
function serveStaticFiles(app: INestApplication, platform: ShopEnvironment['HTTP_PLATFORM'], assets: string): void {
  if (platform === 'fastify') {
    const fastifyApp = app as NestFastifyApplication;
    fastifyApp.useStaticAssets({ root: assets, index: 'index.html' });
    fastifyApp.useStaticAssets({ root: uplotDir(), prefix: '/vendor/uplot/', decorateReply: false });
    return;
  }
  const expressApp = app as NestExpressApplication;
  expressApp.useStaticAssets(assets, { index: 'index.html' });
  expressApp.useStaticAssets(uplotDir(), { prefix: '/vendor/uplot/' });
}

async function createOnExpress(env: ShopEnvironment, options: NestApplicationOptions): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(ShopModule.forRoot(env), options);
  // One load balancer or TLS proxy in front: its X-Forwarded-For/Proto give the client's IP and
  // scheme (device list, Secure cookie); anything further out could be forged by the client.
  app.set('trust proxy', 1);
  app.disable('x-powered-by');
  return app;
}

/** Express's body parser's default (100 kB), so both platforms refuse the same bodies with 413. */
const BODY_LIMIT = 100 * 1024;

/** The same shop on Fastify: the adapter and its static files are loaded only when chosen. */
async function createOnFastify(env: ShopEnvironment, options: NestApplicationOptions): Promise<INestApplication> {
  const { FastifyAdapter } = await import('@nestjs/platform-fastify');
  // One proxy hop trusted, as `trust proxy` 1 on Express (Fastify sends no X-Powered-By).
  const app = await NestFactory.create<NestFastifyApplication>(
    ShopModule.forRoot(env),
    new FastifyAdapter({ trustProxy: (_address: string, hop: number) => hop < 1, bodyLimit: BODY_LIMIT }),
    options,
  );
  return app;
}
