// Routes the matrix scenario needs beyond the README's quick start, written with the public API only.
import { Body, Controller, Get, Post, Req } from '@nestjs/common';
import type { Request } from 'express';
import { Session, SessionService, type SessionUser, type UserSessionInfo } from 'nest-redis-session';

@Controller('account')
export class AccountController {
  constructor(private readonly sessions: SessionService) {}

  @Post('login')
  async login(@Req() req: Request, @Body('userId') userId: string): Promise<{ user: string }> {
    await this.sessions.login(req, { id: userId });
    return { user: userId };
  }

  @Get('me')
  me(@Session('user') user: SessionUser | undefined): { user: string | number | null } {
    return { user: user?.id ?? null };
  }

  @Get('sessions')
  async list(@Req() req: Request): Promise<UserSessionInfo[]> {
    const user = req.session.user;
    return user ? this.sessions.list(user.id, req) : [];
  }

  @Post('logout')
  async logout(@Req() req: Request): Promise<{ ok: true }> {
    await this.sessions.logout(req);
    return { ok: true };
  }
}
