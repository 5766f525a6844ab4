import { Body, Controller, Get, HttpCode, Module, Post, Req } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Request } from 'express';
import { ADDED_LINE, SEED_LINES, addLine, type CartLine } from './cart';
import type { BuiltApp } from './mode';

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
}

@Module({ controllers: [CartController] })
class NoneAppModule {}

export async function buildNoneApp(): Promise<BuiltApp> {
  return { app: await NestFactory.create(NoneAppModule, { logger: ['error', 'warn'] }) };
}
