import { NestFactory } from '@nestjs/core';
import passport from 'passport';
import { AppModule } from './app.module';

// main.ts as Nest's and passport's documentation write it: passport after creating the app.
export async function createApp() {
  const app = await NestFactory.create(AppModule);
  app.use(passport.initialize());
  app.use(passport.session());
  return app; // then: await app.listen(3000)
}
