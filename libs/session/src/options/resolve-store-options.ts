import { SessionConfigError } from '../errors/session-config.error';
import type { ResolvedStoreOptions } from './resolved-storage-options';
import type { RedisSessionStoreOptions } from './storage-options.interface';
import { STORAGE_OPTIONS, resolveStorageOptions } from './resolve-storage-options';

/** Every option of the standalone store: anything else is a typo (or a name from before 1.0). */
const STORE_OPTIONS = ['client', 'logger', ...STORAGE_OPTIONS];

/** Validates the standalone `RedisSessionStore`'s options at construction, naming the option at fault. */
export function resolveStoreOptions(options: RedisSessionStoreOptions): ResolvedStoreOptions {
  if (options === null || typeof options !== 'object') {
    throw new SessionConfigError('options', 'must be an object with at least "client"');
  }
  const stray = Object.keys(options).find((key) => !STORE_OPTIONS.includes(key));
  if (stray !== undefined) throw new SessionConfigError(stray, `is not an option of RedisSessionStore; the options are ${STORE_OPTIONS.join(', ')}`);
  const { client, logger, ...storage } = options;
  if (!client || typeof (client as { defineCommand?: unknown }).defineCommand !== 'function') {
    throw new SessionConfigError('client', 'must be an ioredis Redis or Cluster instance');
  }
  if (logger !== undefined && (logger === null || typeof logger.warn !== 'function' || typeof logger.error !== 'function')) {
    throw new SessionConfigError('logger', 'must have warn() and error() methods, as console does');
  }
  return { ...resolveStorageOptions(storage), client, logger: logger ?? console };
}
