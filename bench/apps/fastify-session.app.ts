import { Module } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Redis } from 'ioredis';
import { PeerCartController, COOKIE } from './connect-redis.app';
import { BENCH_SECRET, IDLE_TIMEOUT_S, type BuiltApp } from './mode';
import { createBenchApp } from './platform';

type Callback = (error?: unknown) => void;

/** What @fastify/session hands its store to save: the session's own fields and its cookie. */
interface StoredSession {
  cookie?: { originalMaxAge?: number | null; expires?: Date | string | null };
  [key: string]: unknown;
}

/**
 * A store for `@fastify/session` over ioredis, written the way a Fastify user writes one today:
 * connect-redis 9 speaks only node-redis and `@fastify/session` ships only a memory store. It keeps
 * its contract (get, set, destroy with Node callbacks; `get` answers null for a session it does not
 * have): each session one JSON string under `prefix + id`, as connect-redis stores it, expiring after
 * the cookie's `maxAge`, or after the bench's idle timeout when the cookie has none (a browser-session
 * cookie, as every layer of the bench sets), as connect-redis's `ttl` does.
 */
export class IoredisSessionStore {
  constructor(
    private readonly client: Redis,
    private readonly prefix = 'sess:',
    private readonly defaultTtlMs = IDLE_TIMEOUT_S * 1_000,
  ) {}

  get(sessionId: string, callback: (error: unknown, session?: StoredSession | null) => void): void {
    this.client.get(this.prefix + sessionId).then((json) => {
      let session: StoredSession | null;
      try {
        session = json === null ? null : (JSON.parse(json) as StoredSession);
      } catch (error) {
        return callback(error);
      }
      callback(null, session);
    }, callback);
  }

  set(sessionId: string, session: StoredSession, callback: Callback): void {
    const ttlMs = this.ttlOf(session);
    // A cookie already past its expiry: nothing to keep (and PX must be positive).
    if (ttlMs <= 0) return void this.destroy(sessionId, callback);
    this.client.set(this.prefix + sessionId, JSON.stringify(session), 'PX', ttlMs).then(() => callback(), callback);
  }

  destroy(sessionId: string, callback: Callback): void {
    this.client.del(this.prefix + sessionId).then(() => callback(), callback);
  }

  /** The cookie's remaining lifetime when it has one (the session lives as long as the cookie), else the default. */
  private ttlOf(session: StoredSession): number {
    const expires = session.cookie?.expires;
    if (session.cookie?.originalMaxAge && expires) return new Date(expires).getTime() - Date.now();
    return this.defaultTtlMs;
  }
}

type FastifyPlugin = Parameters<NestFastifyApplication['register']>[0];
/*
 * Loaded untyped: their declarations augment Fastify's request type (`session`, `sessionStore`) for
 * the whole compilation, where the library's own Fastify platform declares the same names.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- see above: their types would leak into the library's.
const fastifyCookie = require('@fastify/cookie') as FastifyPlugin;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- see above.
const fastifySession = require('@fastify/session') as FastifyPlugin;

@Module({ controllers: [PeerCartController] })
class FastifySessionAppModule {}

/**
 * The `fastify-session` mode: `@fastify/cookie` and `@fastify/session` registered the way their
 * READMEs show, over `IoredisSessionStore` and an ioredis client with its defaults, as the
 * connect-redis mode has on Express. Configured as that mode's express-session is: the same cookie
 * name and attributes, nothing saved for a visitor who stored nothing (`saveUninitialized: false`)
 * and a session written only when it changed (`rolling: false`; `@fastify/session` defaults to
 * saving every session on every request). The controller is the connect-redis mode's: both session
 * objects take properties, and `regenerate` and `save` with a callback.
 */
export async function buildFastifySessionApp(redisUrl: string): Promise<BuiltApp> {
  const redis = new Redis(redisUrl, { enableAutoPipelining: false });
  const app = (await createBenchApp(FastifySessionAppModule, 'fastify')) as NestFastifyApplication;
  await app.register(fastifyCookie);
  await app.register(fastifySession, {
    secret: BENCH_SECRET,
    cookieName: 'sid',
    store: new IoredisSessionStore(redis),
    saveUninitialized: false,
    rolling: false,
    cookie: COOKIE,
  });
  return { app, redis };
}
