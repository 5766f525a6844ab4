import { HttpException } from '@nestjs/common';
import { toHttpException } from '../errors/to-http-exception';

type WsExceptionClass = new (error: string | object) => Error;
let wsException: WsExceptionClass | undefined;

/**
 * The error a gateway's event answers with: a `WsException` of `@nestjs/websockets`, which Nest's
 * gateway exception filter sends to the client as an `exception` frame `{ status: 'error',
 * statusCode, message }` instead of a bare "Internal server error". Loaded only here: a ws context
 * means `@nestjs/websockets` is installed, and an HTTP-only app never loads it.
 */
export function toWsException(error: unknown): Error {
  wsException ??= (require('@nestjs/websockets') as { WsException: WsExceptionClass }).WsException; // eslint-disable-line @typescript-eslint/no-require-imports
  const http = toHttpException(error);
  if (!(http instanceof HttpException))
    return new wsException({ status: 'error', statusCode: 500, message: String((http as { message?: unknown })?.message ?? http) });
  const response = http.getResponse();
  const message = typeof response === 'object' && response !== null && 'message' in response ? response.message : http.message;
  return new wsException({ status: 'error', statusCode: http.getStatus(), message });
}
