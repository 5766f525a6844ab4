import { messages } from './session.messages';

/** A session would take more bytes in Redis than `maxSessionBytes` allows; nothing was written. */
export class SessionTooLargeError extends Error {
  override readonly name = 'SessionTooLargeError';

  constructor(
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(messages.sessionTooLarge(bytes, limit));
  }
}
