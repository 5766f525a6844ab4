import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import passport from 'passport';
import { AppModule } from './app.module';

// main.ts on Fastify: passport runs in a Fastify hook, on the request Nest's guards get
// (app.use() would hand it Node's raw request, which has no session).
export async function createFastifyApp() {
  const app = await NestFactory.create<NestFastifyApplication>(AppModule, new FastifyAdapter());
  const initialize = passport.initialize();
  const session = passport.session();
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('preHandler', (req, reply, done) => {
      initialize(req as never, reply as never, () => session(req, reply, done));
    });
  return app; // then: await app.listen(3000)
}
