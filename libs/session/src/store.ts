// `nest-redis-session/store`: the express-session store on its own, for apps without Nest. Nothing
// this entry point loads imports Nest or Express (eslint.config.mjs keeps it so); express-session
// and ioredis are all it needs. Its names are also exported by the main entry point, for Nest apps.

export { RedisSessionStore } from './store/redis-session-store';
export type { RedisSessionStoreOptions, SessionCookieOptions, SessionStorageOptions } from './options/storage-options.interface';
export type { SessionEncryptionOptions } from './options/feature-options.interface';
export type { StoreCallback } from './store/store-callback';
export type { StoredSession } from './store/store-ports';

export { SessionConfigError } from './errors/session-config.error';
export { SessionDataError } from './errors/session-data.error';
export { SessionStoreError } from './errors/session-store.error';
export { SessionStoreUnavailableError } from './errors/session-store-unavailable.error';
export { SessionTooLargeError } from './errors/session-too-large.error';
