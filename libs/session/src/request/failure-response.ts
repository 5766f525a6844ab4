import { HttpException } from '@nestjs/common';

/** The status and JSON body a failed save answers with, in Nest's shape (503 when Redis failed). */
export function failureAnswer(exception: unknown, error: unknown): { status: number; body: string } {
  const status = exception instanceof HttpException ? exception.getStatus() : 500;
  const response = exception instanceof HttpException ? exception.getResponse() : undefined;
  const body = JSON.stringify(
    typeof response === 'object' && response !== null
      ? response
      : { statusCode: status, message: (error as Error)?.message ?? String(error), error: 'Internal Server Error' },
  );
  return { status, body };
}
