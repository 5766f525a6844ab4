import { Controller, Delete, Get, HttpCode, NotFoundException, Param, Req } from '@nestjs/common';
import type { Request } from 'express';
import { Session, SessionService, type AppSession, type UserSessionInfo } from 'nest-redis-session';

/** The logged-in user's sessions on all devices; the global AuthenticatedGuard answers 401 to others. */
@Controller('api/auth/sessions')
export class SessionsController {
  constructor(private readonly sessions: SessionService) {}

  @Get()
  list(@Req() req: Request, @Session() session: AppSession): Promise<UserSessionInfo[]> {
    return this.sessions.list(session.user!.id, req);
  }

  @Delete(':id')
  @HttpCode(204)
  async revoke(@Param('id') id: string, @Session() session: AppSession): Promise<void> {
    const revoked = await this.sessions.revoke(session.user!.id, id);
    if (!revoked) throw new NotFoundException(`You have no session "${id}"`);
  }
}
