import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { SessionModule, type SessionModuleOptions } from '@app/session';
import { TestController } from './test-controller';

export interface RunningApp {
  app: INestApplication;
  url: string;
  prefix: string;
  close(): Promise<void>;
}

export const TEST_SECRET = 'test-secret-that-is-at-least-32-characters';

/** A Nest app with SessionModule and the test routes, listening on a free port of 127.0.0.1. */
export async function startSessionApp(options: Omit<SessionModuleOptions, 'secret'> & { secret?: SessionModuleOptions['secret'] }): Promise<RunningApp> {
  @Module({
    imports: [SessionModule.forRoot({ secret: TEST_SECRET, ...options })],
    controllers: [TestController],
  })
  class TestAppModule {}

  const app = await NestFactory.create<NestExpressApplication>(TestAppModule, { logger: ['error'] });
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return { app, url, prefix: options.prefix ?? 'sess:', close: () => app.close() };
}

/** Several instances of the same app sharing one Redis: the replicas behind a load balancer. */
export async function startReplicas(count: number, options: Parameters<typeof startSessionApp>[0]): Promise<RunningApp[]> {
  const apps: RunningApp[] = [];
  for (let i = 0; i < count; i++) apps.push(await startSessionApp(options));
  return apps;
}
