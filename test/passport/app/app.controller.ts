import { Controller, Get, HttpCode, Post, Req, UnauthorizedException, UseGuards } from '@nestjs/common';
import type { Request } from 'express';
import { SessionService } from '@app/session';
import { LocalAuthGuard } from './auth';
import type { User } from './users.service';

declare module 'express-session' {
  interface SessionData {
    visits?: number;
  }
}

/** The routes a passport app has: log in, who am I, log out, and the library's own user sessions. */
@Controller()
export class AppController {
  constructor(private readonly sessions: SessionService) {}

  @Post('login')
  @HttpCode(200)
  @UseGuards(LocalAuthGuard)
  login(@Req() req: Request) {
    return req.user;
  }

  @Get('me')
  me(@Req() req: Request) {
    return this.user(req);
  }

  /** Anonymous session data, kept in the session before any login. */
  @Post('visit')
  @HttpCode(200)
  visit(@Req() req: Request) {
    req.session.visits = (req.session.visits ?? 0) + 1;
    return { visits: req.session.visits };
  }

  @Get('public')
  publicRoute() {
    return { ok: true };
  }

  @Post('logout')
  @HttpCode(204)
  async logout(@Req() req: Request): Promise<void> {
    await new Promise<void>((resolve, reject) => req.logout((error) => (error ? reject(error) : resolve())));
  }

  @Get('sessions')
  list(@Req() req: Request) {
    return this.sessions.list(this.user(req).id, req);
  }

  @Post('logout-all')
  @HttpCode(200)
  async logoutAll(@Req() req: Request) {
    return { deleted: await this.sessions.logoutEverywhere(this.user(req).id) };
  }

  private user(req: Request): User {
    if (!req.user) throw new UnauthorizedException();
    return req.user as User;
  }
}
