import { Logger, type Provider } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { Redis } from 'ioredis';
import { SESSION_OPTIONS, SESSION_REDIS } from '../session.constants';
import type { ResolvedSessionOptions } from '../options/resolved-options';
import { resolveSessionOptions } from '../options/resolve-options';
import { createRedisConnection, type SessionRedisConnection } from '../redis/create-redis-connection';
import { reportConnectionErrors } from '../redis/report-connection-errors';
import { RedisSessionStore, type RedisSessionStoreOptions } from '../store/redis-session-store';
import { SessionPersistence } from '../store/session-persistence';
import { NearCache } from '../cache/near-cache';
import { SessionTelemetry } from '../observe/session-telemetry';
import { SessionEvents } from '../events/session-events';
import { SessionEventFeeds } from '../events/session-event-feeds';
import { SessionUserIndexKeeper } from '../users/user-index-keeper';
import { UserSessionIndex } from '../users/user-session-index';
import { SESSION_MODULE_OPTIONS } from './session.module-definition';

/** Ms between two near-cache heartbeats: how soon a silently broken invalidation stream is noticed. */
const NEAR_CACHE_HEARTBEAT_MS = 1_000;

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
      if (options.nearCache) persistence.useNearCache(createNearCache(options, persistence));
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
    // Lifecycle events: this replica's own from the session code, the rest from the feeds the `events` option asks for.
    provide: SessionEvents,
    useFactory: (options: ResolvedSessionOptions, persistence: SessionPersistence) => {
      const events = new SessionEvents(options.events.replica);
      persistence.observe(events.observer());
      return events;
    },
    inject: [SESSION_OPTIONS, SessionPersistence],
  },
  {
    provide: SessionEventFeeds,
    useFactory: (options: ResolvedSessionOptions, client: Redis, events: SessionEvents, moduleRef: ModuleRef) =>
      new SessionEventFeeds(options, client, events, moduleRef, new Logger('SessionEvents')),
    inject: [SESSION_OPTIONS, SESSION_REDIS, SessionEvents, ModuleRef],
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

/** The near cache of one module; `SessionModule` starts it once Redis is reachable and closes it at shutdown. */
function createNearCache(options: ResolvedSessionOptions, persistence: SessionPersistence): NearCache {
  const { gateway } = persistence;
  const settings = {
    ...options.nearCache!,
    heartbeatInterval: NEAR_CACHE_HEARTBEAT_MS,
    invalidationTimeout: Math.max(options.commandTimeout, NEAR_CACHE_HEARTBEAT_MS),
  };
  return new NearCache(settings, {
    client: gateway.client,
    prefix: options.prefix,
    redisReachable: () => gateway.client.status === 'ready' && !gateway.recentlyUnavailable(),
    observer: () => persistence.observer,
    logger: new Logger('SessionModule'),
  });
}

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
