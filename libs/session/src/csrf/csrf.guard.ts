import { ForbiddenException, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { CSRF_HEADER, CSRF_KEY, SKIP_CSRF } from '../session.constants';
import { authenticatedByHeaderAlone as byHeaderAlone, existingSession } from '../request/request-session';
import { isSocketRequest, requestOf } from '../request/session-target';
import { tokensMatch } from './tokens-match';

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Synchronizer-token CSRF protection: on POST, PUT, PATCH and DELETE the `x-csrf-token` header must
 * equal the token kept in the session (`SessionService.csrfToken`), compared in constant time;
 * otherwise 403 and the handler does not run. `@SkipCsrf()` opts a route or controller out. A request
 * authenticated by the session ID header alone (`idFrom`, no session cookie) is not checked: it
 * carries no credential the browser would add by itself. In GraphQL, mutations are checked and
 * queries are not, whatever the HTTP method; a gateway's events and operations sent over a GraphQL
 * socket (graphql-ws, Mercurius) are not checked: the handshake's `Origin` check guards a socket,
 * and a browser's WebSocket cannot send the token header anyway.
 */
@Injectable()
export class CsrfGuard implements CanActivate {
  constructor(protected readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const type = context.getType<string>();
    if (type === 'ws') return true;
    const req = this.getRequest(context);
    if (isSocketRequest(req)) return true;
    const unsafe = type === 'graphql' ? this.isMutation(context) : UNSAFE_METHODS.has(req.method);
    if (!unsafe || !this.needsCheck(req) || this.isSkipped(context)) return true;
    if (tokensMatch(this.expectedToken(req), this.givenToken(req))) return true;
    return this.throwForbidden(context);
  }

  /** Whether a request that changes something (an unsafe method, a GraphQL mutation) must show the token. */
  protected needsCheck(req: Request): boolean {
    return !this.authenticatedByHeaderAlone(req);
  }

  /** A GraphQL operation that changes data: the resolver's `info` (fourth argument) names the operation. */
  protected isMutation(context: ExecutionContext): boolean {
    return context.getArgByIndex<{ operation?: { operation?: string } } | undefined>(3)?.operation?.operation === 'mutation';
  }

  /**
   * A request whose session ID came in the ID header (`idFrom`) and that sent no session cookie: a
   * browser never adds that header by itself, so a forged cross-site request cannot carry it, and
   * there is nothing to protect. A request that also sends the cookie is checked as any other.
   */
  protected authenticatedByHeaderAlone(req: Request): boolean {
    return byHeaderAlone(req);
  }

  protected isSkipped(context: ExecutionContext): boolean {
    return this.reflector.getAllAndOverride<boolean>(SKIP_CSRF, [context.getHandler(), context.getClass()]) === true;
  }

  /** The HTTP request, or GraphQL's `context.req` (see `requestOf`). */
  protected getRequest(context: ExecutionContext): Request {
    return requestOf(context) as Request;
  }

  protected expectedToken(req: Request): unknown {
    return existingSession(req)?.[CSRF_KEY];
  }

  protected givenToken(req: Request): unknown {
    return req.headers[CSRF_HEADER];
  }

  protected throwForbidden(_context: ExecutionContext): never {
    throw new ForbiddenException('Missing or invalid CSRF token');
  }
}
