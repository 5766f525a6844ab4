import type { ModuleRef } from '@nestjs/core';
import type { Subscription } from 'rxjs';
import type { SessionEvents } from './session-events';

/** What the bridge needs of `EventEmitter2`. */
export interface EventEmitterLike {
  emit(event: string, ...values: unknown[]): unknown;
}

/**
 * When the app imports `EventEmitterModule` (`@nestjs/event-emitter`), emits every session event as
 * `session.<type>` (`session.login`, …) on its `EventEmitter2`, so `@OnEvent('session.login')` works.
 * The package stays optional: its token is loaded only if installed, and looked up in the whole app.
 * Answers the subscription to end at shutdown, or undefined when there is no emitter.
 */
export function bridgeToEventEmitter(events: SessionEvents, moduleRef: ModuleRef, logger: { error(message: string): void }): Subscription | undefined {
  const emitter = findEventEmitter(moduleRef);
  if (!emitter) return undefined;
  return events.subscribe((event) => {
    try {
      emitter.emit(`session.${event.type}`, event);
    } catch (error) {
      // A listener's throw must not end the subscription, nor reach the session code that recorded the event.
      logger.error(`A listener of session.${event.type} threw: ${(error as Error)?.message ?? String(error)}`);
    }
  });
}

/** The app's `EventEmitter2`, or undefined when the package is not installed or its module not imported. */
function findEventEmitter(moduleRef: ModuleRef): EventEmitterLike | undefined {
  const token = eventEmitterToken();
  if (!token) return undefined;
  try {
    const emitter = moduleRef.get<unknown, EventEmitterLike>(token, { strict: false });
    return typeof emitter?.emit === 'function' ? emitter : undefined;
  } catch {
    return undefined; // installed, but EventEmitterModule is not imported
  }
}

/** `EventEmitterModule` provides its emitter under the `EventEmitter2` class of the `eventemitter2` package. */
function eventEmitterToken(): EmitterClass | undefined {
  // Literal names, each in its own try: bundlers then leave a package that is not installed to run time.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return tokenFrom(() => require('@nestjs/event-emitter')) ?? tokenFrom(() => require('eventemitter2'));
}

type EmitterClass = abstract new (...args: never[]) => unknown;

function tokenFrom(load: () => unknown): EmitterClass | undefined {
  try {
    return (load() as { EventEmitter2?: EmitterClass }).EventEmitter2;
  } catch {
    return undefined; // not installed, or not loadable here
  }
}
