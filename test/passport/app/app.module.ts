import { Module } from '@nestjs/common';
import { PassportModule } from '@nestjs/passport';
import { SessionModule, type SessionModuleOptions } from '@app/session';
import { AppController } from './app.controller';
import { LocalStrategy, SessionSerializer } from './auth';
import { UsersService } from './users.service';

/** Test knobs, read at boot: each test gets its own key prefix and options. */
export const passportAppOptions: { current: Partial<SessionModuleOptions> } = { current: {} };

@Module({
  imports: [
    PassportModule.register({ session: true }),
    SessionModule.forRootAsync({
      useFactory: (): SessionModuleOptions => ({
        secret: process.env.SESSION_SECRET!,
        redis: process.env.REDIS_URL!,
        ...passportAppOptions.current,
      }),
    }),
  ],
  controllers: [AppController],
  providers: [UsersService, LocalStrategy, SessionSerializer],
})
export class AppModule {}
