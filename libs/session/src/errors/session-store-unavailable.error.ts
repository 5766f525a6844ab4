import { messages } from './session.messages';

/**
 * Redis could not serve a session operation: not connected, too slow or failing. Requests that need
 * their session answer 503 with this message rather than continuing as an anonymous user.
 */
export class SessionStoreUnavailableError extends Error {
  override readonly name = 'SessionStoreUnavailableError';

  constructor(detail: string, options?: { cause?: unknown }) {
    super(messages.storeUnavailable(detail), options);
  }
}
