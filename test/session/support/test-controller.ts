import { All, Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { FastifyReply } from 'fastify';
import { PassThrough } from 'node:stream';
import { AppSession, AuthenticatedGuard, CsrfGuard, Session, SessionService, SkipCsrf } from '@app/session';
import { waitAtGate } from './gates';
import { buildValue, type ValueSpec } from './values';

declare module 'express-session' {
  interface SessionData {
    views?: number;
    items?: string[];
    [key: string]: unknown;
  }
}

/** Routes that exercise the library the way an application would, one behaviour each. */
@Controller()
export class TestController {
  constructor(private readonly sessions: SessionService) {}

  /** Reads one key: no session is created for a visitor without one. */
  @Get('peek')
  peek(@Session('views') views?: number) {
    return { views: views ?? null };
  }

  /** Reads the whole session (creating one in memory for a new visitor). */
  @Get('whole')
  whole(@Session() session: AppSession) {
    const { cookie: _cookie, ...data } = session as unknown as Record<string, unknown>;
    return data;
  }

  @Post('set/:key')
  @HttpCode(200)
  async set(@Param('key') key: string, @Body() body: { value: unknown; gate?: string }, @Session() session: AppSession) {
    if (body.gate) await waitAtGate(body.gate); // the session is loaded: the test acts, then lets the change through
    (session as unknown as Record<string, unknown>)[key] = body.value;
    return { ok: true };
  }

  /** Sets a key to a value JSON cannot carry to the app (a function, BigInt, a cycle: see values.ts). */
  @Post('set-built/:key')
  @HttpCode(200)
  setBuilt(@Param('key') key: string, @Body() body: { value: ValueSpec }, @Session() session: AppSession) {
    (session as unknown as Record<string, unknown>)[key] = buildValue(body.value);
    return { ok: true };
  }

  /** Updates a key through `SessionService.update`, answering what the change was given and what it made. */
  @Post('update-list/:key')
  @HttpCode(200)
  async updateList(@Req() req: Request, @Param('key') key: string, @Body() body: { item: string }) {
    let given: unknown;
    const list = await this.sessions.update(req, key, (current) => {
      given = current;
      return [...((current as string[] | undefined) ?? []), body.item];
    });
    return { given: given ?? null, list };
  }

  /**
   * Sets a key while streaming the answer. On Express the headers are out long before the session is
   * saved; on Fastify the stream goes to `reply.send`, whose `onSend` saves before the first byte.
   */
  @Post('stream-set/:key')
  async streamSet(
    @Param('key') key: string,
    @Body() body: { value: unknown; gate?: string },
    @Session() session: AppSession,
    @Res() res: Response | FastifyReply,
  ) {
    (session as unknown as Record<string, unknown>)[key] = body.value;
    if ('raw' in res) {
      const stream = new PassThrough();
      stream.write('{"ok":');
      void res.status(200).header('content-type', 'application/json').send(stream);
      if (body.gate) await waitAtGate(body.gate);
      stream.end('true}');
      return;
    }
    res.status(200).write('{"ok":');
    if (body.gate) await waitAtGate(body.gate); // the headers are out
    res.end('true}');
  }

  /** Gives the session's cookie a maxAge of its own (a "remember me" choice): its expiry follows at once. */
  @Post('cookie-max-age')
  @HttpCode(200)
  cookieMaxAge(@Session() session: AppSession, @Body() body: { ms: number }) {
    session.cookie.maxAge = body.ms;
    return { ok: true };
  }

  @Post('inc')
  @HttpCode(200)
  inc(@Session() session: AppSession) {
    session.views = (session.views ?? 0) + 1;
    return { views: session.views };
  }

  @Post('items')
  @HttpCode(200)
  async addItem(@Req() req: Request, @Body() body: { item: string; gate?: string }) {
    if (body.gate) await waitAtGate(body.gate); // room for another writer between the read and the update
    const items = await this.sessions.update(req, 'items', (current) => [...(current ?? []), body.item]);
    return { count: items?.length };
  }

  @Post('login')
  @HttpCode(200)
  async login(@Req() req: Request, @Body() body: { id: string; name?: string }) {
    await this.sessions.login(req, { id: body.id, name: body.name ?? body.id });
    return { csrfToken: req.session.csrfToken };
  }

  @Post('logout')
  @HttpCode(204)
  logout(@Req() req: Request) {
    return this.sessions.logout(req);
  }

  /** A logout that hands the login form a fresh CSRF token in the same response. */
  @Post('logout-then-token')
  async logoutThenToken(@Req() req: Request) {
    await this.sessions.logout(req);
    return { csrfToken: await this.sessions.csrfToken(req) };
  }

  @Get('me')
  @UseGuards(AuthenticatedGuard)
  me(@Session('user') user: unknown) {
    return { user };
  }

  @Get('sessions')
  @UseGuards(AuthenticatedGuard)
  list(@Req() req: Request) {
    return this.sessions.list(req.session.user!.id, req);
  }

  @Delete('sessions/:handle')
  @UseGuards(AuthenticatedGuard)
  async revoke(@Req() req: Request, @Param('handle') handle: string) {
    return { revoked: await this.sessions.revoke(req.session.user!.id, handle) };
  }

  @Post('logout-all')
  @HttpCode(200)
  @UseGuards(AuthenticatedGuard)
  async logoutAll(@Req() req: Request, @Body() body: { keepCurrent?: boolean }) {
    const deleted = await this.sessions.logoutEverywhere(req.session.user!.id, body?.keepCurrent ? { except: req } : {});
    return { deleted };
  }

  /** A privilege change: the session gets a new ID and keeps its data. */
  @Post('regenerate')
  @HttpCode(204)
  async regenerate(@Req() req: Request, @Body() body?: { gate?: string }) {
    if (body?.gate) await waitAtGate(body.gate); // the session is loaded: the test acts (a logout), then lets the regenerate run
    return this.sessions.regenerate(req);
  }

  /** `@fastify/session`'s regenerate, as Fastify plugins call it: a new ID keeping the listed keys. */
  @Post('regenerate-keeping')
  @HttpCode(204)
  async regenerateKeeping(@Req() req: Request, @Body() body: { keep: string[]; gate?: string }) {
    if (body.gate) await waitAtGate(body.gate); // as /regenerate: the test acts (a logout), then lets it run
    await (req.session as unknown as { regenerate(keep: string[]): Promise<void> }).regenerate(body.keep);
  }

  @Get('csrf')
  async csrf(@Req() req: Request, @Query('gate') gate?: string) {
    if (gate) await waitAtGate(gate); // the session is loaded: the test lets another request ask first
    return { csrfToken: await this.sessions.csrfToken(req) };
  }

  @Post('protected')
  @HttpCode(200)
  @UseGuards(CsrfGuard)
  protectedAction(@Session() session: AppSession) {
    session.views = (session.views ?? 0) + 1;
    return { views: session.views };
  }

  /** Every HTTP method behind the CSRF guard: which ones it checks. */
  @All('guarded')
  @HttpCode(200)
  @UseGuards(CsrfGuard)
  guarded(@Req() req: Request) {
    return { method: req.method };
  }

  @Post('skipped')
  @HttpCode(200)
  @UseGuards(CsrfGuard)
  @SkipCsrf()
  skipped() {
    return { ok: true };
  }

  @Get('public')
  publicRoute() {
    return { ok: true };
  }
}
