import { BadRequestException, Body, Controller, Get, HttpCode, Module, Param, Post, Req } from '@nestjs/common';
import { join, resolve } from 'node:path';
import { PREF_KEY, addLine, benchUser, type CartLine } from './apps/cart';
import { BENCH_SECRET, IDLE_TIMEOUT_S, type BuiltApp, type Platform } from './apps/mode';
import { createBenchApp } from './apps/platform';

/** What the base app uses of a library copy: the exports of its `libs/session/src/index.ts`. */
interface Library {
  SessionModule: { forRoot(options: object): unknown };
  SessionService: new (...args: never[]) => unknown;
  Session: (key?: string) => ParameterDecorator;
  SESSION_REDIS: symbol | string;
}
type Sessions = {
  update(req: unknown, key: string, change: (cart: CartLine[] | undefined) => CartLine[]): Promise<CartLine[]>;
  login(req: unknown, user: object): Promise<void>;
};

/**
 * `ours` built from another copy of the library (`BASE_LIBRARY`: a checkout, or a folder holding
 * its libs/session/src, of an earlier commit) for `bench/request-cpu.ts`: the same routes as
 * `ours.app.ts`, declared here without decorator syntax because their decorators come from that copy,
 * loaded at run time. Both copies then take turns in one process.
 */
export async function buildBaseApp(redisUrl: string, platform: Platform, extra: Record<string, unknown> = {}): Promise<BuiltApp> {
  if (!process.env.BASE_LIBRARY) throw new Error('the base mode needs BASE_LIBRARY: a checkout of the commit to compare with');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a path known at run time only
  const lib = require(join(resolve(process.env.BASE_LIBRARY), 'libs/session/src')) as Library;

  class BaseCartController {
    constructor(private readonly sessions: Sessions) {}
    cart(cart?: CartLine[]): CartLine[] {
      return cart ?? [];
    }
    add(req: unknown, line: CartLine): Promise<CartLine[]> {
      return this.sessions.update(req, 'cart', (cart) => addLine(cart ?? [], line));
    }
    async login(req: unknown, body: { userId: string }): Promise<{ ok: true }> {
      await this.sessions.login(req, benchUser(body.userId));
      return { ok: true };
    }
    /** As `ours.app.ts`'s: one top-level key set, written by the end-of-request save. */
    setPref(session: Record<string, unknown>, key: string, body: { value: unknown }): { ok: true } {
      if (!PREF_KEY.test(key)) throw new BadRequestException(`key must match ${PREF_KEY}`);
      session[key] = body.value;
      return { ok: true };
    }
  }
  const proto = BaseCartController.prototype as unknown as Record<string, unknown>;
  const route = (method: string, decorators: MethodDecorator[]) => {
    const descriptor = Object.getOwnPropertyDescriptor(proto, method)!;
    for (const decorate of decorators) decorate(proto, method, descriptor);
  };
  Reflect.defineMetadata('design:paramtypes', [lib.SessionService], BaseCartController);
  lib.Session('cart')(proto, 'cart', 0);
  Req()(proto, 'add', 0);
  Body()(proto, 'add', 1);
  Req()(proto, 'login', 0);
  Body()(proto, 'login', 1);
  route('cart', [Get('cart')]);
  route('add', [Post('cart/items'), HttpCode(200)]);
  route('login', [Post('login'), HttpCode(200)]);
  lib.Session()(proto, 'setPref', 0);
  Param('key')(proto, 'setPref', 1);
  Body()(proto, 'setPref', 2);
  route('setPref', [Post('prefs/:key'), HttpCode(200)]);
  Controller()(BaseCartController);

  class BaseAppModule {}
  Module({
    imports: [lib.SessionModule.forRoot({ secret: BENCH_SECRET, redis: redisUrl, prefix: 'sess:', idleTimeout: IDLE_TIMEOUT_S * 1_000, ...extra }) as never],
    controllers: [BaseCartController],
  })(BaseAppModule);
  const app = await createBenchApp(BaseAppModule, platform);
  return { app, redis: app.get(lib.SESSION_REDIS) };
}
