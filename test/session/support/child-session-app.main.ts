/**
 * A test app in a process of its own, for tests whose input may crash the process: it listens on a
 * free port of 127.0.0.1 and prints `LISTENING <url>` once ready. Options come as JSON in
 * CHILD_SESSION_APP_OPTIONS (`SessionModule.forRoot` options; the test secret is added).
 * Started by `startChildSessionApp` (child-session-app.ts).
 */
import 'reflect-metadata';
import { Body, Controller, HttpCode, Module, Post, Req } from '@nestjs/common';
import type { Request } from 'express';
import { SessionModule, SessionService, type SessionModuleOptions } from '@app/session';
import { createNestApp } from '../../support/http-platform';
import { TEST_SECRET } from './session-app';
import { TestController } from './test-controller';
import { buildValue, type ValueSpec } from './values';

/** One thing app code does to its session. */
export type SessionStep =
  | { op: 'set'; key: string; value: ValueSpec }
  | { op: 'update'; key: string; value: ValueSpec }
  | { op: 'delete'; key: string }
  | { op: 'cookie'; field: string; value: ValueSpec }
  | { op: 'replace-cookie'; value: ValueSpec }
  | { op: 'regenerate' }
  | { op: 'save' };

@Controller()
class StepsController {
  constructor(private readonly sessions: SessionService) {}

  /**
   * Applies the steps in order, as a handler would, and answers 200 unless the library objects.
   * `stepsJson` carries them as a string: Fastify's body parser answers 400 to a body holding a
   * `__proto__` or `constructor.prototype` key (its prototype-poisoning guard), and values app code
   * puts in a session may hold such keys; inside a string they reach the handler on both platforms.
   */
  @Post('apply')
  @HttpCode(200)
  async apply(@Req() req: Request, @Body() body: { steps?: SessionStep[]; stepsJson?: string }) {
    const steps = body.stepsJson === undefined ? (body.steps ?? []) : (JSON.parse(body.stepsJson) as SessionStep[]);
    for (const step of steps) {
      const session = req.session as unknown as Record<string, unknown>;
      switch (step.op) {
        case 'set':
          session[step.key] = buildValue(step.value); // plain assignment, as app code writes it
          break;
        case 'update':
          await this.sessions.update(req, step.key as never, () => buildValue(step.value) as never);
          break;
        case 'delete':
          delete session[step.key];
          break;
        case 'cookie':
          (session.cookie as Record<string, unknown>)[step.field] = buildValue(step.value);
          break;
        case 'replace-cookie':
          session.cookie = buildValue(step.value);
          break;
        case 'regenerate':
          await this.sessions.regenerate(req);
          break;
        case 'save':
          await this.sessions.save(req);
          break;
      }
    }
    return { ok: true };
  }
}

async function main(): Promise<void> {
  const options = JSON.parse(process.env.CHILD_SESSION_APP_OPTIONS ?? '{}') as Omit<SessionModuleOptions, 'secret'>;

  @Module({
    imports: [SessionModule.forRoot({ secret: TEST_SECRET, ...options })],
    controllers: [TestController, StepsController],
  })
  class ChildAppModule {}

  const app = await createNestApp(ChildAppModule, { logger: ['error', 'warn'] });
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  process.stdout.write(`LISTENING ${url}\n`);
  // The parent going away (a killed jest worker) must not leave this app running.
  process.on('disconnect', () => process.exit(0));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
