import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { toHttpException } from '../errors/to-http-exception';
import { ensureSession, existingSession } from '../request/request-session';
import type { SessionKey } from '../session-data';

const sessionParam = createParamDecorator((key: SessionKey | undefined, context: ExecutionContext) => {
  const req = context.getArgByIndex<Request>(0); // the HTTP request, without building an HTTP context first
  try {
    if (key === undefined) return ensureSession(req);
    // Reading one key of a session the visitor does not have yields undefined without creating one.
    return existingSession(req)?.[key];
  } catch (error) {
    throw toHttpException(error);
  }
});

/**
 * Injects the request's session (typed `AppSession`), or one of its keys. It shadows the `Session`
 * of `@nestjs/common` on purpose: import it from this library, never both in one file.
 * @example `me(@Session() session: AppSession)` or `cart(@Session('cart') cart?: CartLine[])`
 */
export function Session(key?: SessionKey): ParameterDecorator {
  return sessionParam(key);
}
