import { SessionConfigError } from '@app/session/errors/session-config.error';

/*
 * Boot errors as the options specs check them: the `SessionConfigError` an options resolver throws,
 * and that it names the option at fault (in its `option` field and in its message).
 */

/** The SessionConfigError that `resolve(options)` throws; fails the test when it throws none or another error. */
export function configErrorOf(resolve: (options: never) => unknown, options: unknown): SessionConfigError {
  try {
    resolve(options as never);
  } catch (error) {
    if (error instanceof SessionConfigError) return error;
    throw error;
  }
  throw new Error(`no error for ${JSON.stringify(options)}`);
}

/** `resolve(options)` refuses the options with a SessionConfigError naming `option`. */
export function expectRejectedBy(resolve: (options: never) => unknown, options: unknown, option: string): void {
  const error = configErrorOf(resolve, options);
  expect(error.option).toBe(option);
  expect(error.name).toBe('SessionConfigError');
  expect(error.message).toContain(`"${option}"`);
}
