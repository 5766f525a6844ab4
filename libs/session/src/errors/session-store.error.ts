/**
 * Redis answered a session command with an error (a bug, or a server that refuses the write). Its
 * text stays in `cause` and the server log; the client only sees the library's message.
 */
export class SessionStoreError extends Error {
  override readonly name = 'SessionStoreError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
