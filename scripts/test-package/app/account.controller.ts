// Routes the matrix scenario needs beyond the README's quick start, written with the public API only.
import { Body, Controller, Get, Post, Req } from '@nestjs/common';
import type { Request } from 'express';
import { Session, SessionService, type AppSession, type SessionUser, type UserSessionInfo } from 'nest-redis-session';

// The app's user, typed through declaration merging as the library README shows it: `id` narrowed
// from `string | number`, the other fields the app's own. No cast anywhere below.
declare module 'nest-redis-session' {
  interface SessionUser {
    id: string;
    name: string;
    roles: string[];
  }
}

// Compile-time proof that the merge took (this file fails to compile when it did not): the merged
// user requires every declared field, and its `id` is a string.
// @ts-expect-error `roles` is required
const withoutRoles: SessionUser = { id: 'ada', name: 'Ada' };
// @ts-expect-error `id` is a string here
const numericId: SessionUser = { id: 7, name: 'Ada', roles: [] };
void [withoutRoles, numericId];

@Controller('account')
export class AccountController {
  constructor(private readonly sessions: SessionService) {}

  @Post('login')
  async login(@Req() req: Request, @Body('userId') userId: string): Promise<{ user: string }> {
    await this.sessions.login(req, { id: userId, name: userId.toUpperCase(), roles: ['customer'] });
    return { user: userId };
  }

  @Get('me')
  me(@Session('user') user: SessionUser | undefined): { user: string | null; name: string | null } {
    const name: string | null = user?.name ?? null;
    return { user: user?.id ?? null, name };
  }

  @Get('roles')
  roles(@Session() session: AppSession): string[] {
    const roles: string[] = session.user?.roles ?? [];
    return roles;
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
