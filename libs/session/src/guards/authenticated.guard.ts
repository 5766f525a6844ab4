import { Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { PUBLIC_ROUTE, USER_KEY } from '../session.constants';
import { existingSession } from '../request/request-session';

/**
 * Lets a request through when its session has a logged-in user (set by `SessionService.login`), or
 * when the route or controller is marked `@PublicRoute()`; answers 401 otherwise. Each step is a protected
 * method, so a subclass can change one (where the user lives, what is thrown) and keep the rest.
 */
@Injectable()
export class AuthenticatedGuard implements CanActivate {
  constructor(protected readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    if (this.isPublic(context)) return true;
    if (this.isAuthenticated(this.getRequest(context))) return true;
    return this.throwUnauthenticated(context);
  }

  protected isPublic(context: ExecutionContext): boolean {
    return this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [context.getHandler(), context.getClass()]) === true;
  }

  protected getRequest(context: ExecutionContext): Request {
    return context.switchToHttp().getRequest<Request>();
  }

  /** A visitor without a session cookie is anonymous without any session being created. */
  protected isAuthenticated(req: Request): boolean {
    return existingSession(req)?.[USER_KEY] != null;
  }

  protected throwUnauthenticated(_context: ExecutionContext): never {
    throw new UnauthorizedException('Not logged in');
  }
}
