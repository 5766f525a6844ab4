/** express-session's callback, or nothing when the caller awaits the promise instead. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- express-session's own callback type: with `unknown`, a callback typed (error: Error) would not fit.
export type StoreCallback<T> = ((error: any, value?: T) => void) | undefined;

/**
 * One implementation serves both styles: express-session passes a callback, applications await the
 * promise. With a callback the returned promise never rejects (the error went to the callback), and
 * an exception thrown by the callback itself surfaces as an uncaught error, as in callback code.
 */
export function withCallback<T>(promise: Promise<T>, callback: StoreCallback<T>): Promise<T> {
  if (!callback) return promise;
  return promise
    .then(
      (value) => {
        callback(null, value);
        return value;
      },
      (error) => {
        callback(error);
        return undefined as T;
      },
    )
    .catch(rethrowLater);
}

function rethrowLater(error: unknown): never {
  setImmediate(() => {
    throw error;
  });
  return undefined as never;
}
