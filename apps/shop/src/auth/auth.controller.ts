import { Body, Controller, Get, HttpCode, Post, Req, Res, UnauthorizedException } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { FastifyReply } from 'fastify';
import { PublicRoute, Session, SessionService, type AppSession, type SessionUser } from 'nest-redis-session';
import { FailedLoginLimiter, TooManyLoginFailuresException } from './failed-login-limiter';
import { LoginDto } from './login.dto';
import type { ShopUser } from './shop-user';
import { UserDirectory } from './user-directory';

/** One message for an unknown user and a wrong password, so the answer does not tell which it was. */
const INVALID_CREDENTIALS = 'Invalid username or password';

@Controller('api')
export class AuthController {
  constructor(
    private readonly sessions: SessionService,
    private readonly users: UserDirectory,
    private readonly limiter: FailedLoginLimiter,
  ) {}

  /** The token every POST and DELETE must echo in `x-csrf-token`; creates the session if needed. */
  @PublicRoute()
  @Get('csrf')
  async csrf(@Req() req: Request): Promise<{ csrfToken: string }> {
    return { csrfToken: await this.sessions.csrfToken(req) };
  }

  @PublicRoute()
  @Post('auth/login')
  @HttpCode(200)
  async login(
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response | FastifyReply,
    @Body() { username, password }: LoginDto,
  ): Promise<{ user: ShopUser; csrfToken: string }> {
    const attempt = await this.limiter.take(username).catch((error: unknown) => {
      // Express's response or Fastify's reply (HTTP_PLATFORM): both keep the header for the error's answer.
      if (error instanceof TooManyLoginFailuresException) void res.header('Retry-After', String(error.retryAfterSeconds));
      throw error;
    });
    const user = await this.users.verify(username, password);
    if (!user) throw new UnauthorizedException(INVALID_CREDENTIALS);
    await this.limiter.forgive(attempt);
    // New session ID (the old cookie dies), same data (the cart stays), new CSRF token.
    await this.sessions.login(req, user);
    return { user, csrfToken: await this.sessions.csrfToken(req) };
  }

  @Get('auth/me')
  me(@Session() session: AppSession): { user: ShopUser } {
    return { user: publicUser(session.user!) };
  }

  /** Public: logging out must work even for a session whose user is already gone. */
  @PublicRoute()
  @Post('auth/logout')
  @HttpCode(204)
  async logout(@Req() req: Request): Promise<void> {
    await this.sessions.logout(req);
  }

  /** Every session of this user on every device, this one included; then this cookie is cleared (or the token header emptied). */
  @Post('auth/logout-all')
  @HttpCode(204)
  async logoutAll(@Req() req: Request, @Session() session: AppSession): Promise<void> {
    // This session ends as a logout (its sockets hear "logout"), every other one as revoked.
    await this.sessions.logoutEverywhere(session.user!.id, { except: req });
    await this.sessions.logout(req);
  }
}

/** Only what the API promises, whatever else a session's user object may carry. */
function publicUser(user: SessionUser): ShopUser {
  return { id: user.id, username: user.username };
}
