// The public API of nest-redis-session. Anything not exported here is internal and may change.

export { SessionModule } from './module/session.module';
export { ConfigurableSessionModule } from './module/session.module-definition';
export type {
  SessionIdSource,
  SessionModuleExtras,
  SessionModuleOptions,
  SessionRedisOption,
  SessionRoute,
  SessionSocketsOptions,
  SessionUserId,
  SessionUsersOptions,
} from './options/session-options.interface';
export type { RedisSessionStoreOptions, SessionCookieOptions, SessionStorageOptions } from './options/storage-options.interface';
export type { StoreCallback } from './store/store-callback';
export type { StoredSession } from './store/store-ports';
export type { NearCacheOptions, SessionEncryptionOptions, SessionEventsOptions, SessionRenewalOptions } from './options/feature-options.interface';
export type { ResolvedSessionOptions } from './options/resolved-options';
export type { ResolvedCookie, ResolvedEncryption, ResolvedStorageOptions } from './options/resolved-storage-options';
export { SESSION_DEFAULTS } from './options/session-defaults';
export type { MetricsRegistry, ResolvedMetricsOptions, SessionMetricsOptions } from './options/metrics-options';
export { SESSION_METRICS_BUCKETS } from './options/metrics-options';
export { dbStatementSerializer } from './tracing/db-statement-serializer';
export { SESSION_OPTIONS, SESSION_REDIS, CSRF_HEADER } from './session.constants';
export { InjectSessionRedis } from './module/inject-session-redis.decorator';

export { SessionService } from './service/session.service';
export type { SessionTarget } from './service/session.service';
export { withSessions, SESSION_ENDED_EVENT } from './transports/with-sessions';
export type { SessionProviders, SessionSocketAdapter } from './transports/with-sessions';
export { graphqlWsSessions, SESSION_ENDED_CLOSE_CODE } from './transports/graphql-ws-sessions';
export type { GraphqlWsContext } from './transports/graphql-ws-sessions';
export { mercuriusSessions } from './transports/mercurius-sessions';
export type { MercuriusSessionHooks, MercuriusSubscriptionSessions } from './transports/mercurius-sessions';
export type { SocketEndReason } from './transports/socket-sessions';
export { SessionEvents } from './events/session-events';
export type {
  SessionEvent,
  SessionEventType,
  SessionEventBase,
  SessionCreatedEvent,
  SessionLoginEvent,
  SessionLogoutEvent,
  SessionRevokedEvent,
  SessionDestroyedEvent,
  SessionExpiredEvent,
} from './events/session-event';
export type { UserSessionInfo } from './users/user-session-index';
export type { ResealReport } from './store/reseal-sessions';
export type { AppSession, SessionKey, SessionUser } from './session-data';

export { Session } from './decorators/session.decorator';
export { PublicRoute } from './decorators/public-route.decorator';
export { SkipCsrf } from './csrf/skip-csrf.decorator';
export { AuthenticatedGuard } from './guards/authenticated.guard';
export { CsrfGuard } from './csrf/csrf.guard';

export { RedisSessionStore } from './store/redis-session-store';

export { SessionConfigError } from './errors/session-config.error';
export { SessionStoreUnavailableError } from './errors/session-store-unavailable.error';
export { SessionStoreError } from './errors/session-store.error';
export { SessionTooLargeError } from './errors/session-too-large.error';
export { SessionConflictError } from './errors/session-conflict.error';
export { SessionDataError } from './errors/session-data.error';
