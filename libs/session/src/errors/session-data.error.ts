/** A session value that cannot be stored: a reserved key name or a value JSON cannot represent. */
export class SessionDataError extends Error {
  override readonly name = 'SessionDataError';

  constructor(
    message: string,
    readonly key: string,
  ) {
    super(message);
  }
}
