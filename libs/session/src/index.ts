// The public API of nest-redis-session. Anything not exported here is internal and may change.

export { SessionModule } from './session.module';
export type { SessionCookieOptions, SessionModuleExtras, SessionModuleOptions, SessionRedisOption, SessionRoute } from './options/session-options.interface';
export { SESSION_DEFAULTS } from './options/resolve-options';
export { SESSION_OPTIONS, SESSION_REDIS, CSRF_HEADER } from './session.constants';
export { InjectSessionRedis } from './inject-session-redis.decorator';

export { SessionService } from './service/session.service';
export type { UserSessionInfo } from './store/user-session-index';
export type { AppSession, SessionKey, SessionUser } from './session-data';

export { Session } from './decorators/session.decorator';
export { Public } from './decorators/public.decorator';
export { SkipCsrf } from './decorators/skip-csrf.decorator';
export { AuthenticatedGuard } from './guards/authenticated.guard';
export { CsrfGuard } from './csrf/csrf.guard';

export { RedisSessionStore } from './store/redis-session-store';
export type { RedisSessionStoreOptions } from './store/redis-session-store';

export { SessionConfigError } from './errors/session-config.error';
export { SessionStoreUnavailableError } from './errors/session-store-unavailable.error';
export { SessionTooLargeError } from './errors/session-too-large.error';
export { SessionConflictError } from './errors/session-conflict.error';
export { SessionDataError } from './errors/session-data.error';
