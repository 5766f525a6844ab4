/**
 * `SessionService.update` could not apply its change: the key kept changing under concurrent
 * requests past the retry budget, or the session itself ended meanwhile. Nothing was written.
 */
export class SessionConflictError extends Error {
  override readonly name = 'SessionConflictError';

  constructor(
    message: string,
    readonly reason: 'contention' | 'gone' | 'limit',
  ) {
    super(message);
  }
}
