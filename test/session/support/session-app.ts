import { Module, type INestApplication, type Type } from '@nestjs/common';
import { SessionModule, type SessionModuleOptions } from '@app/session';
import { createNestApp, type TestHttpPlatform } from '../../support/http-platform';
import { TestController } from './test-controller';

export interface RunningApp {
  app: INestApplication;
  url: string;
  prefix: string;
  close(): Promise<void>;
}

export const TEST_SECRET = 'test-secret-that-is-at-least-32-characters';

type AppOptions = Omit<SessionModuleOptions, 'secret'> & { secret?: SessionModuleOptions['secret'] };

/**
 * A Nest app with SessionModule and the test routes (plus `extraControllers`), listening on a free
 * port of 127.0.0.1, on `platform` (by default the one `TEST_HTTP_PLATFORM` names, Express unless set).
 */
export async function startSessionApp(options: AppOptions, extraControllers: Type[] = [], platform?: TestHttpPlatform): Promise<RunningApp> {
  @Module({
    imports: [SessionModule.forRoot({ secret: TEST_SECRET, ...options })],
    controllers: [TestController, ...extraControllers],
  })
  class TestAppModule {}

  const app = await createNestApp(TestAppModule, { logger: ['error'] }, platform);
  // A boot that fails (a refused option, a Redis user without a right) must not leave its Redis client open.
  await app.listen(0, '127.0.0.1').catch(async (error: unknown) => {
    await app.close().catch(() => undefined);
    throw error;
  });
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return { app, url, prefix: options.prefix ?? 'sess:', close: () => app.close() };
}

/** Several instances of the same app sharing one Redis: the replicas behind a load balancer. */
export async function startReplicas(count: number, options: AppOptions, extraControllers: Type[] = []): Promise<RunningApp[]> {
  const apps: RunningApp[] = [];
  for (let i = 0; i < count; i++) apps.push(await startSessionApp(options, extraControllers));
  return apps;
}
