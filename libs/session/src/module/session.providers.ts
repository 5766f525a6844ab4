import { Logger, type Provider } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { SESSION_OPTIONS, SESSION_REDIS } from '../session.constants';
import type { ResolvedSessionOptions } from '../options/resolved-options';
import { resolveSessionOptions } from '../options/resolve-options';
import { createRedisConnection, type SessionRedisConnection } from '../redis/create-redis-connection';
import { reportConnectionErrors } from '../redis/report-connection-errors';
import { RedisSessionStore, type RedisSessionStoreOptions } from '../store/redis-session-store';
import { SessionPersistence } from '../store/session-persistence';
import { SessionTelemetry } from '../observe/session-telemetry';
import { SessionUserIndexKeeper } from '../users/user-index-keeper';
import { UserSessionIndex } from '../users/user-session-index';
import { SESSION_MODULE_OPTIONS } from './session.module-definition';

/** Internal token: the client together with whether the module owns it. */
export const SESSION_REDIS_CONNECTION = 'session:redis-connection';

export const sessionProviders: Provider[] = [
  { provide: SESSION_OPTIONS, useFactory: resolveSessionOptions, inject: [SESSION_MODULE_OPTIONS] },
  {
    provide: SESSION_REDIS_CONNECTION,
    useFactory: (options: ResolvedSessionOptions) => {
      const connection = createRedisConnection(options.redis, options.commandTimeout);
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
  {
    // One instance shared by the store, the request lifecycle and the service.
    provide: SessionPersistence,
    useFactory: (options: ResolvedSessionOptions, client: Redis) => {
      const persistence = new SessionPersistence(storeOptions(options, client));
      persistence.renewal = options.renewal;
      return persistence;
    },
    inject: [SESSION_OPTIONS, SESSION_REDIS],
  },
  {
    // Metrics and traces, attached to the persistence at boot when the options ask for them.
    provide: SessionTelemetry,
    useFactory: (options: ResolvedSessionOptions, persistence: SessionPersistence) =>
      SessionTelemetry.attach(options, persistence, new Logger('SessionModule')),
    inject: [SESSION_OPTIONS, SessionPersistence],
  },
  {
    // The user index, and the keeper that moves each session's entry in the session's own saves.
    provide: UserSessionIndex,
    useFactory: (options: ResolvedSessionOptions, persistence: SessionPersistence) => {
      const index = new UserSessionIndex(persistence, { maxSessions: options.maxSessionsPerUser, onLimit: options.onLimit });
      persistence.indexKeeper = new SessionUserIndexKeeper(index, options.userId);
      return index;
    },
    inject: [SESSION_OPTIONS, SessionPersistence],
  },
  {
    provide: RedisSessionStore,
    useFactory: (options: ResolvedSessionOptions, client: Redis, persistence: SessionPersistence) =>
      new RedisSessionStore(storeOptions(options, client), persistence),
    inject: [SESSION_OPTIONS, SESSION_REDIS, SessionPersistence],
  },
];

function storeOptions(options: ResolvedSessionOptions, client: Redis): RedisSessionStoreOptions {
  const { name: _name, ...cookie } = options.cookie;
  return {
    client,
    prefix: options.prefix,
    ttl: options.idleTimeout,
    absoluteTimeout: options.absoluteTimeout,
    refreshOnRead: true,
    touchAfter: options.touchAfter,
    commandTimeout: options.commandTimeout,
    durability: options.durability,
    maxSessionBytes: options.maxSessionBytes,
    encryption: options.encryption,
    cookie: definedOnly(cookie),
    logger: new Logger('RedisSessionStore'),
  };
}

/** Drops undefined entries: express-session's Cookie would turn `maxAge: undefined` into settings. */
export function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
