import { BadRequestException, Body, Controller, Get, HttpCode, Module, Param, Post, Req } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { RedisStore } from 'connect-redis';
import type { Request } from 'express';
import session from 'express-session';
import { Redis } from 'ioredis';
import { PREF_KEY, addLine, benchUser, type BenchSession, type CartLine } from './cart';
import { BENCH_SECRET, IDLE_TIMEOUT_S, type BuiltApp } from './mode';

/** Options both the app and the memory/logout benches give connect-redis's store. */
export function connectRedisStoreOptions(client: Redis) {
  return { client, prefix: 'sess:', ttl: IDLE_TIMEOUT_S };
}

/**
 * The cookie both layers send over plain HTTP (ours: httpOnly, sameSite lax, secure 'auto' → false,
 * path /, browser-session lifetime).
 */
export const COOKIE = { httpOnly: true, sameSite: 'lax' as const, secure: false, path: '/' };

/** The session object's callback methods as promises (express-session's and `@fastify/session`'s alike). */
function call(target: session.Session, method: 'regenerate' | 'save'): Promise<void> {
  return new Promise((resolve, reject) => target[method]((error?: Error) => (error ? reject(error) : resolve())));
}

/**
 * The peers' controller: express-session's `req.session` on Express (`connect-redis`), and
 * `@fastify/session`'s on Fastify (`fastify-session`), which takes properties and offers `regenerate`
 * and `save` with callbacks the same way.
 */
@Controller()
export class PeerCartController {
  @Get('cart')
  cart(@Req() req: Request): CartLine[] {
    return (req.session as BenchSession).cart ?? [];
  }

  @Post('cart/items')
  @HttpCode(200)
  add(@Req() req: Request, @Body() line: CartLine): CartLine[] {
    const session = req.session as BenchSession;
    session.cart = addLine(session.cart ?? [], line);
    return session.cart;
  }

  /** Sets one top-level key, saved by express-session at the end of the request (the whole session). */
  @Post('prefs/:key')
  @HttpCode(200)
  setPref(@Req() req: Request, @Param('key') key: string, @Body() body: { value: unknown }): { ok: true } {
    if (!PREF_KEY.test(key)) throw new BadRequestException(`key must match ${PREF_KEY}`);
    (req.session as unknown as Record<string, unknown>)[key] = body.value;
    return { ok: true };
  }

  /** express-session's (and @fastify/session's) login sequence: a new ID against fixation, the user set, saved before answering. */
  @Post('login')
  @HttpCode(200)
  async login(@Req() req: Request, @Body() body: { userId: string }): Promise<{ ok: true }> {
    const { cart } = req.session as BenchSession;
    await call(req.session, 'regenerate');
    const session = req.session as BenchSession;
    session.user = benchUser(body.userId);
    if (cart) session.cart = cart;
    await call(req.session, 'save');
    return { ok: true };
  }
}

@Module({ controllers: [PeerCartController] })
class ConnectRedisAppModule {}

/**
 * express-session + connect-redis 8 mounted the way its users do, with `app.use(session(...))`, over
 * an ioredis client with its defaults (`enableAutoPipelining: false`).
 */
export async function buildConnectRedisApp(redisUrl: string): Promise<BuiltApp> {
  const redis = new Redis(redisUrl, { enableAutoPipelining: false });
  const app = await NestFactory.create(ConnectRedisAppModule, { logger: ['error', 'warn'] });
  app.use(
    session({
      store: new RedisStore(connectRedisStoreOptions(redis)),
      secret: BENCH_SECRET,
      name: 'sid',
      resave: false,
      saveUninitialized: false,
      cookie: COOKIE,
    }),
  );
  return { app, redis };
}
