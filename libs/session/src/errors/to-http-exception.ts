import { ConflictException, HttpException, InternalServerErrorException, PayloadTooLargeException, ServiceUnavailableException } from '@nestjs/common';
import { SessionConflictError } from './session-conflict.error';
import { SessionDataError } from './session-data.error';
import { SessionStoreError } from './session-store.error';
import { SessionStoreUnavailableError } from './session-store-unavailable.error';
import { SessionTooLargeError } from './session-too-large.error';

// The description is passed explicitly: with an options object, Nest leaves the "error" field out.

/**
 * Maps the store's framework-free errors to the HTTP answers a Nest app gives: the store stays usable
 * without Nest, and Nest's exception filter renders the usual `{ statusCode, message, error }`.
 */
export function toHttpException(error: unknown): unknown {
  if (error instanceof HttpException) return error;
  if (error instanceof SessionStoreUnavailableError) {
    return new ServiceUnavailableException(error.message, { cause: error, description: 'Service Unavailable' });
  }
  if (error instanceof SessionTooLargeError) {
    return new PayloadTooLargeException(error.message, { cause: error, description: 'Payload Too Large' });
  }
  if (error instanceof SessionConflictError) return new ConflictException(error.message, { cause: error, description: 'Conflict' });
  if (error instanceof SessionDataError || error instanceof SessionStoreError) {
    return new InternalServerErrorException(error.message, { cause: error, description: 'Internal Server Error' });
  }
  return error;
}
