import { BadRequestException, Body, Controller, Get, HttpCode, Module, Param, Post, Req } from '@nestjs/common';
import type { Request } from 'express';
import { SESSION_REDIS, Session, SessionModule, SessionService, type AppSession, type SessionKey, type SessionModuleOptions } from '@app/session';
import { PREF_KEY, addLine, benchUser, type CartLine } from './cart';

/** The bench's `cart` key, which it does not merge into `SessionData` (see `BenchSession`). */
const CART = 'cart' as SessionKey;
type UpdateCart = (req: Request, key: SessionKey, change: (cart: CartLine[] | undefined) => CartLine[]) => Promise<CartLine[]>;
import { BENCH_SECRET, IDLE_TIMEOUT_S, type BuiltApp, type Platform } from './mode';
import { createBenchApp } from './platform';

@Controller()
class CartController {
  private readonly updateCart: UpdateCart;

  constructor(private readonly sessions: SessionService) {
    this.updateCart = sessions.update.bind(sessions) as unknown as UpdateCart;
  }

  /** `@Session('cart')` reads the cart without creating a session for a visitor who has none. */
  @Get('cart')
  cart(@Session(CART) cart?: CartLine[]): CartLine[] {
    return cart ?? [];
  }

  @Post('cart/items')
  @HttpCode(200)
  add(@Req() req: Request, @Body() line: CartLine): Promise<CartLine[]> {
    return this.updateCart(req, CART, (cart) => addLine(cart ?? [], line));
  }

  /** Sets one top-level key, written by the end-of-request save (only the keys that changed). */
  @Post('prefs/:key')
  @HttpCode(200)
  setPref(@Session() session: AppSession, @Param('key') key: string, @Body() body: { value: unknown }): { ok: true } {
    if (!PREF_KEY.test(key)) throw new BadRequestException(`key must match ${PREF_KEY}`);
    (session as unknown as Record<string, unknown>)[key] = body.value;
    return { ok: true };
  }

  /** One top-level key as the session holds it now (the staleness probe's read). */
  @Get('prefs/:key')
  pref(@Session() session: AppSession, @Param('key') key: string): { value: unknown } {
    return { value: (session as unknown as Record<string, unknown>)[key] ?? null };
  }

  @Post('logout')
  @HttpCode(204)
  logout(@Req() req: Request): Promise<void> {
    return this.sessions.logout(req);
  }

  @Post('login')
  @HttpCode(200)
  async login(@Req() req: Request, @Body() body: { userId: string }): Promise<{ ok: true }> {
    await this.sessions.login(req, benchUser(body.userId));
    return { ok: true };
  }
}

/** Builds the module the bench app and the logout bench share. */
export function benchSessionModule(redisUrl: string, extra: Partial<SessionModuleOptions> = {}) {
  return SessionModule.forRoot({ secret: BENCH_SECRET, redis: redisUrl, prefix: 'sess:', idleTimeout: IDLE_TIMEOUT_S * 1_000, ...extra });
}

/**
 * `extra`: options on top of the bench's, e.g. `{ metrics: true }` for the ours-metrics mode. On
 * Fastify (`ours-fastify`) the module picks its platform from the adapter: nothing else changes.
 */
export async function buildOursApp(redisUrl: string, extra: Partial<SessionModuleOptions> = {}, platform: Platform = 'express'): Promise<BuiltApp> {
  @Module({ imports: [benchSessionModule(redisUrl, extra)], controllers: [CartController] })
  class OursAppModule {}
  const app = await createBenchApp(OursAppModule, platform);
  return { app, redis: app.get(SESSION_REDIS) };
}
