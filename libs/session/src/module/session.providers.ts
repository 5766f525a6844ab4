import { Logger, type Provider } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { Redis } from 'ioredis';
import { SESSION_OPTIONS, SESSION_REDIS } from '../session.constants';
import type { ResolvedSessionOptions } from '../options/resolved-options';
import { resolveSessionOptions } from '../options/resolve-options';
import { createRedisConnection, type SessionRedisConnection } from '../redis/create-redis-connection';
import { reportConnectionErrors } from '../redis/report-connection-errors';
import { SessionObservers } from '../redis/session-observer';
import { RedisSessionStore } from '../store/redis-session-store';
import { SessionCore } from '../store/session-core';
import { SessionTelemetry } from '../observe/session-telemetry';
import { SessionEvents } from '../events/session-events';
import { SessionEventFeeds } from '../events/session-event-feeds';
import { UserSessionIndex } from '../users/user-session-index';
import { SESSION_MODULE_OPTIONS } from './session.module-definition';
import { SessionStack, buildSessionStack } from './session-stack';

/** Internal token: the client together with whether the module owns it. */
export const SESSION_REDIS_CONNECTION = 'session:redis-connection';

export const sessionProviders: Provider[] = [
  { provide: SESSION_OPTIONS, useFactory: resolveSessionOptions, inject: [SESSION_MODULE_OPTIONS] },
  {
    provide: SESSION_REDIS_CONNECTION,
    useFactory: (options: ResolvedSessionOptions) => {
      const connection = createRedisConnection(options.redis, options.redisDeadline);
      // From the first moment: a client passed in is the caller's, listeners included.
      if (connection.owned) reportConnectionErrors(connection.client, new Logger('SessionModule'));
      return connection;
    },
    inject: [SESSION_OPTIONS],
  },
  {
    provide: SESSION_REDIS,
    useFactory: (connection: SessionRedisConnection) => connection.client,
    inject: [SESSION_REDIS_CONNECTION],
  },
  // What the gateway, the store and the features report to; metrics, traces and events join it below.
  { provide: SessionObservers, useFactory: () => new SessionObservers() },
  {
    // The core and the features plugged into it, built in one place, in dependency order.
    provide: SessionStack,
    useFactory: (options: ResolvedSessionOptions, connection: SessionRedisConnection, observers: SessionObservers) =>
      closingOnFailure(connection, () => buildSessionStack(options, connection.client as Redis, observers)),
    inject: [SESSION_OPTIONS, SESSION_REDIS_CONNECTION, SessionObservers],
  },
  { provide: SessionCore, useFactory: (stack: SessionStack) => stack.core, inject: [SessionStack] },
  { provide: UserSessionIndex, useFactory: (stack: SessionStack) => stack.userIndex, inject: [SessionStack] },
  {
    // Metrics and traces, joining the observers at boot when the options ask for them.
    provide: SessionTelemetry,
    useFactory: (options: ResolvedSessionOptions, stack: SessionStack, observers: SessionObservers, connection: SessionRedisConnection) =>
      closingOnFailure(connection, () => SessionTelemetry.attach(options, stack.core.gateway, stack.nearCache, observers, new Logger('SessionModule'))),
    inject: [SESSION_OPTIONS, SessionStack, SessionObservers, SESSION_REDIS_CONNECTION],
  },
  {
    // Lifecycle events: this replica's own from the session code, the rest from the feeds the `events` option asks for.
    provide: SessionEvents,
    useFactory: (options: ResolvedSessionOptions, observers: SessionObservers) => {
      const events = new SessionEvents(options.events.replica);
      observers.add(events.observer());
      return events;
    },
    inject: [SESSION_OPTIONS, SessionObservers],
  },
  {
    provide: SessionEventFeeds,
    useFactory: (options: ResolvedSessionOptions, connection: SessionRedisConnection, events: SessionEvents, moduleRef: ModuleRef) =>
      closingOnFailure(connection, () => new SessionEventFeeds(options, connection.client as Redis, events, moduleRef, new Logger('SessionEvents'))),
    inject: [SESSION_OPTIONS, SESSION_REDIS_CONNECTION, SessionEvents, ModuleRef],
  },
  {
    provide: RedisSessionStore,
    useFactory: (client: Redis, core: SessionCore) => new RedisSessionStore({ client }, core),
    inject: [SESSION_REDIS, SessionCore],
  },
];

/**
 * Builds a part of the module once its client exists. A part that throws (an option only it can
 * check, such as a metrics registry that already holds the module's metrics) fails the boot, and Nest
 * then hands back no app to close: the client the module made is closed here, or it would keep the
 * process alive.
 */
function closingOnFailure<T>(connection: SessionRedisConnection, build: () => T): T {
  try {
    return build();
  } catch (error) {
    if (connection.owned) connection.client.disconnect();
    throw error;
  }
}
