import { Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { PUBLIC_ROUTE, USER_KEY } from '../session.constants';
import { existingSession } from '../request/request-session';
import { requestOf } from '../request/session-target';
import { toWsException } from '../transports/ws-exception';

/**
 * Lets a request through when its session has a logged-in user (set by `SessionService.login`), or
 * when the route or controller is marked `@PublicRoute()`; answers 401 otherwise (in a gateway, an
 * `exception` frame with `statusCode: 401`). Works on controllers, GraphQL resolvers and gateways. Each step is a protected
 * method, so a subclass can change one (where the user lives, what is thrown) and keep the rest.
 */
@Injectable()
export class AuthenticatedGuard implements CanActivate {
  constructor(protected readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    if (this.isPublic(context)) return true;
    let authenticated: boolean;
    try {
      authenticated = this.isAuthenticated(this.getRequest(context));
    } catch (error) {
      // A socket's event whose read of Redis failed: an `exception` frame with 503, as the decorator answers.
      throw context.getType() === 'ws' ? toWsException(error) : error;
    }
    if (authenticated) return true;
    return this.throwUnauthenticated(context);
  }

  protected isPublic(context: ExecutionContext): boolean {
    return this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [context.getHandler(), context.getClass()]) === true;
  }

  /** The HTTP request, GraphQL's `context.req`, or the socket's session (see `requestOf`). */
  protected getRequest(context: ExecutionContext): Request {
    return requestOf(context) as Request;
  }

  /** A visitor without a session cookie is anonymous without any session being created. */
  protected isAuthenticated(req: Request): boolean {
    return existingSession(req)?.[USER_KEY] != null;
  }

  protected throwUnauthenticated(context: ExecutionContext): never {
    const error = new UnauthorizedException('Not logged in');
    throw context.getType() === 'ws' ? toWsException(error) : error;
  }
}
