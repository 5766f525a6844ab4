import { messages } from './session.messages';

/** Thrown at boot when an option of `SessionModule` or `RedisSessionStore` is invalid; `option` names it. */
export class SessionConfigError extends Error {
  override readonly name = 'SessionConfigError';

  constructor(
    readonly option: string,
    problem: string,
  ) {
    super(messages.invalidOption(option, problem));
  }
}
