import { ArgumentsHost, Catch, HttpException } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { STATUS_CODES } from 'node:http';

/** What body-parser throws: an http-errors object such as `entity.too.large` or `charset.unsupported`. */
interface BodyParserError {
  status: number;
  type: string;
  message: string;
}

/**
 * Nest already turns malformed JSON into a 400 of the usual shape, but passes body-parser's other
 * refusals (413 too large, 415 unsupported charset or encoding) on without the `error` field: raw up
 * to Nest 11, wrapped in an HttpException (as its `cause`) from Nest 12. This gives them the shape
 * every other error has; all other exceptions go to Nest's handling unchanged.
 */
@Catch()
export class BodyParserErrorsFilter extends BaseExceptionFilter {
  override catch(exception: unknown, host: ArgumentsHost): void {
    const refusal = bodyParserErrorOf(exception);
    if (!refusal) return super.catch(exception, host);
    const { status, message } = refusal;
    super.catch(new HttpException(HttpException.createBody(message, STATUS_CODES[status] ?? 'Error', status), status), host);
  }
}

function bodyParserErrorOf(exception: unknown): BodyParserError | undefined {
  if (isBodyParserError(exception)) return exception;
  if (isFastifyBodyError(exception)) return { status: exception.statusCode, type: exception.code, message: exception.message };
  const wrapped = exception instanceof HttpException && typeof exception.getResponse() === 'string' ? exception.cause : undefined;
  if (isFastifyBodyError(wrapped)) return { status: wrapped.statusCode, type: wrapped.code, message: wrapped.message };
  return isBodyParserError(wrapped) ? wrapped : undefined;
}

/** What Fastify's body parsing throws (HTTP_PLATFORM=fastify): `FST_ERR_CTP_*` (bad JSON, too large, a type it does not parse). */
function isFastifyBodyError(error: unknown): error is { statusCode: number; code: string; message: string } {
  const candidate = error as { statusCode?: unknown; code?: unknown } | null;
  return (
    typeof candidate?.code === 'string' &&
    candidate.code.startsWith('FST_ERR_CTP_') &&
    typeof candidate.statusCode === 'number' &&
    candidate.statusCode >= 400 &&
    candidate.statusCode < 500
  );
}

function isBodyParserError(error: unknown): error is BodyParserError {
  const candidate = error as Partial<BodyParserError> | null;
  return (
    typeof candidate?.type === 'string' &&
    typeof candidate.status === 'number' &&
    candidate.status >= 400 &&
    candidate.status < 500 &&
    !(error instanceof HttpException)
  );
}
