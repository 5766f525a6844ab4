import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { toHttpException } from '../errors/to-http-exception';
import { toWsException } from '../transports/ws-exception';
import { ensureSession, existingSession } from '../request/request-session';
import { isSocketRequest, requestOf } from '../request/session-target';
import type { SessionKey } from '../session-data';

const sessionParam = createParamDecorator((key: SessionKey | undefined, context: ExecutionContext) => {
  const socket = context.getType() === 'ws';
  try {
    const req = requestOf(context); // the HTTP request, GraphQL's `context.req`, or the socket's session
    // A socket (a gateway's, or a GraphQL subscription's) cannot hand a new session's cookie to its
    // client: there, no session stays undefined.
    if (key === undefined) return socket || isSocketRequest(req) ? existingSession(req) : ensureSession(req);
    // Reading one key of a session the visitor does not have yields undefined without creating one.
    return existingSession(req)?.[key];
  } catch (error) {
    throw socket ? toWsException(error) : toHttpException(error);
  }
});

/**
 * Injects the session (typed `AppSession`), or one of its keys, in a controller, a GraphQL resolver
 * or a gateway's `@SubscribeMessage` handler (undefined there for a socket without a session). It
 * shadows the `Session` of `@nestjs/common` on purpose: import it from this library, never both in one file.
 * @example `me(@Session() session: AppSession)` or `cart(@Session('cart') cart?: CartLine[])`
 */
export function Session(key?: SessionKey): ParameterDecorator {
  return sessionParam(key);
}
