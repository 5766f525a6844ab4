import { BadRequestException, Body, Controller, Get, HttpCode, Module, Param, Post, Req } from '@nestjs/common';
import type { Request } from 'express';
import { ADDED_LINE, PREF_KEY, SEED_LINES, addLine, type CartLine } from './cart';
import type { BuiltApp, Platform } from './mode';
import { createBenchApp } from './platform';

/**
 * The ceiling: the same routes and answers with no session layer. A request with a cookie gets the
 * seeded cart, one without gets an empty one, so response sizes match the session modes.
 */
@Controller()
class CartController {
  @Get('cart')
  cart(@Req() req: Request): CartLine[] {
    return req.headers.cookie ? SEED_LINES : [];
  }

  @Post('cart/items')
  @HttpCode(200)
  add(@Body() line: CartLine): CartLine[] {
    return addLine(addLine(SEED_LINES, ADDED_LINE), line);
  }

  @Post('prefs/:key')
  @HttpCode(200)
  setPref(@Param('key') key: string): { ok: true } {
    if (!PREF_KEY.test(key)) throw new BadRequestException(`key must match ${PREF_KEY}`);
    return { ok: true };
  }
}

@Module({ controllers: [CartController] })
class NoneAppModule {}

/** `none` on Express, `none-fastify` on Fastify: the same controller (it reads only the cookie header). */
export async function buildNoneApp(platform: Platform = 'express'): Promise<BuiltApp> {
  return { app: await createBenchApp(NoneAppModule, platform) };
}
