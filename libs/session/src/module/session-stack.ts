import { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { NearCache } from '../cache/near-cache';
import type { ResolvedSessionOptions } from '../options/resolved-options';
import type { SessionObservers } from '../redis/session-observer';
import { SessionCore, createSessionContext } from '../store/session-core';
import { SessionUserIndexKeeper } from '../users/user-index-keeper';
import { defaultSessionUserId } from '../users/user-id';
import { UserSessionIndex } from '../users/user-session-index';

/** Ms between two near-cache heartbeats: how soon a silently broken invalidation stream is noticed. */
const NEAR_CACHE_HEARTBEAT_MS = 1_000;

/**
 * The module's persistence core with its features plugged in: the near cache (when on) and the user
 * index. `SessionModule` starts and closes what is in here; the providers hand out its parts.
 */
export class SessionStack {
  constructor(
    readonly core: SessionCore,
    readonly userIndex: UserSessionIndex,
    readonly nearCache: NearCache | undefined,
  ) {}
}

/**
 * Builds the stack in dependency order: the near cache first (the gateway tells it of every write),
 * then the gateway and context, the user index over them, and the core with both features.
 */
export function buildSessionStack(options: ResolvedSessionOptions, client: Redis, observers: SessionObservers): SessionStack {
  const logger = new Logger('RedisSessionStore');
  // The near cache asks whether Redis is reachable at each read: the gateway, made just below, knows.
  const redisReachable = () => client.status === 'ready' && !context.gateway.recentlyUnavailable();
  const nearCache = options.nearCache && createNearCache(options, client, observers, redisReachable);
  const context = createSessionContext({ ...options, client, logger }, observers, nearCache);
  const userIndex = new UserSessionIndex(context, options.users);
  const indexKeeper = new SessionUserIndexKeeper(userIndex, options.users.id ?? defaultSessionUserId);
  const core = new SessionCore(context, { cache: nearCache, indexKeeper });
  return new SessionStack(core, userIndex, nearCache);
}

/** The near cache of one module; `SessionModule` starts it once Redis is reachable and closes it at shutdown. */
function createNearCache(options: ResolvedSessionOptions, client: Redis, observers: SessionObservers, redisReachable: () => boolean): NearCache {
  const { maxEntries, maxBytes, maxEntryAge } = options.nearCache!;
  const settings = {
    maxEntries,
    maxBytes,
    maxAge: maxEntryAge,
    heartbeatInterval: NEAR_CACHE_HEARTBEAT_MS,
    invalidationTimeout: Math.max(options.redisDeadline, NEAR_CACHE_HEARTBEAT_MS),
  };
  return new NearCache(settings, {
    client,
    prefix: options.prefix,
    redisReachable,
    observer: () => observers.observer,
    logger: new Logger('SessionModule'),
  });
}
