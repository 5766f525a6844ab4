import { Body, Controller, Get, HttpCode, Post, Req } from '@nestjs/common';
import type { Request } from 'express';
import type Redis from 'ioredis';
import { InjectSessionRedis, SessionService } from '@app/session';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { sessionRedisKey } from '../support/key-scheme';
import { startSessionApp, type RunningApp } from './support/session-app';
import { Visitor } from './support/http-client';

const prefix = uniquePrefix('svc');
/** Small enough that a login carrying DRAFT cannot be saved, large enough for any other session here. */
const MAX_SESSION_BYTES = 4096;
const DRAFT = 'd'.repeat(MAX_SESSION_BYTES);
/** The module's default idle timeout, which the sessions here keep. */
const IDLE_TIMEOUT = 30 * 60_000;

/** The `SessionService` methods the shared test routes do not call, each answering what it saw in Redis or in the session. */
@Controller('svc')
class ServiceRoutesController {
  constructor(
    private readonly sessions: SessionService,
    @InjectSessionRedis() private readonly redis: Redis,
  ) {}

  /** Saves a change at once, then answers what Redis holds for it, before the response ends (and its own save). */
  @Post('save-now')
  @HttpCode(200)
  async saveNow(@Req() req: Request, @Body() body: { views: number }) {
    req.session.views = body.views;
    await this.sessions.save(req);
    return { stored: await this.redis.hget(sessionRedisKey(prefix, req.sessionID), 'views') };
  }

  /** Changes a key without saving it, then reloads: the change must be gone, the stored value back. */
  @Post('reload')
  @HttpCode(200)
  async reload(@Req() req: Request) {
    req.session.views = 100;
    await this.sessions.reload(req);
    return { views: req.session.views ?? null };
  }

  /** Logs out, then reloads the session a later call starts: never stored, it has nothing to reload. */
  @Post('logout-then-reload')
  @HttpCode(200)
  async logoutThenReload(@Req() req: Request) {
    await this.sessions.logout(req);
    req.session.views = 7;
    await this.sessions.reload(req);
    return { views: req.session.views ?? null };
  }

  /** Another request (or replica) deletes the session while this one runs, then this one reloads. */
  @Post('reload-after-delete')
  @HttpCode(200)
  async reloadAfterDelete(@Req() req: Request) {
    await this.redis.del(sessionRedisKey(prefix, req.sessionID));
    await this.sessions.reload(req);
    return { reloaded: true };
  }

  /**
   * A longer cookie window ("remember me"), then touch(): the expiry in Redis must have moved before
   * touch() resolves, not at the end of the request. Answers the key's remaining time in ms.
   */
  @Post('remember-and-touch')
  @HttpCode(200)
  async rememberAndTouch(@Req() req: Request, @Body() body: { ms: number }) {
    req.session.cookie.maxAge = body.ms;
    await this.sessions.touch(req);
    return { pttl: await this.redis.pttl(sessionRedisKey(prefix, req.sessionID)) };
  }

  /** The session as sessionOf sees it; never creates one. */
  @Get('session-of')
  sessionOf(@Req() req: Request) {
    const session = this.sessions.sessionOf(req);
    return { present: session !== undefined, views: session?.views ?? null };
  }

  @Post('destroy')
  @HttpCode(204)
  destroy(@Req() req: Request) {
    return this.sessions.destroy(req);
  }

  /**
   * A handler that tries a login and carries on when it fails (a form shown again): it drops the
   * draft that made the session too large and answers 200. Whatever it does then, the failed login
   * must leave no logged-in session behind.
   */
  @Post('login-as')
  @HttpCode(200)
  async loginAs(@Req() req: Request, @Body() body: { id: string; numeric: boolean }) {
    await this.sessions.login(req, { id: body.numeric ? Number(body.id) : body.id });
    return { loggedIn: true };
  }

  /** Logs in a user who carries a value JSON cannot hold (a BigInt), or more bytes than a session may hold. */
  @Post('login-carrying')
  @HttpCode(200)
  async loginCarrying(@Req() req: Request, @Body() body: { id: string; carry: 'bigint' | 'draft' }) {
    await this.sessions.login(req, { id: body.id, extra: body.carry === 'bigint' ? 1n : DRAFT });
    return { loggedIn: true };
  }

  /** Sets a value JSON cannot hold on the session, then gives it a new ID. */
  @Post('regenerate-with-bigint')
  @HttpCode(200)
  async regenerateWithBigint(@Req() req: Request) {
    req.session.views = 1n as unknown as number;
    await this.sessions.regenerate(req);
    return { regenerated: true };
  }

  @Post('login-or-stay')
  @HttpCode(200)
  async loginOrStay(@Req() req: Request, @Body() body: { id: string }) {
    req.session.draft = DRAFT;
    try {
      await this.sessions.login(req, { id: body.id });
      return { loggedIn: true };
    } catch (error) {
      if (req.session) delete req.session.draft;
      return { loggedIn: false, error: (error as Error).name };
    }
  }
}

/** `SessionService`'s save, reload, touch, sessionOf and destroy, a failed or refused login, list without a request, logout and reseal at their edges, on a real Redis. */
describe('SessionService, the methods the other suites do not reach', () => {
  let redis: RedisServerHandle;
  let app: RunningApp;

  beforeAll(async () => {
    redis = await startRedis({ controllable: true });
    app = await startSessionApp({ redis: redis.url, prefix, maxSessionBytes: MAX_SESSION_BYTES, users: { maxSessions: 1, onLimit: 'reject' } }, [
      ServiceRoutesController,
    ]);
  });

  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it('save() writes the session to Redis before it resolves, not at the end of the request', async () => {
    const visitor = new Visitor(app.url);
    expect((await visitor.post('/inc')).body).toEqual({ views: 1 });
    const res = await visitor.post('/svc/save-now', { views: 5 });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ stored: '5' });
  });

  it('reload() drops what the request changed and reads the session back from Redis', async () => {
    const visitor = new Visitor(app.url);
    await visitor.post('/inc');
    const res = await visitor.post('/svc/reload');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ views: 1 });
    expect((await visitor.get('/peek')).body).toEqual({ views: 1 });
  });

  it('reload() of a session never stored (the one a later call starts after logout) leaves it as it is', async () => {
    const visitor = new Visitor(app.url);
    await visitor.post('/inc');
    const res = await visitor.post('/svc/logout-then-reload');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ views: 7 });
  });

  it('reload() of a session deleted meanwhile answers a 409 that says the session ended, not a bare 500', async () => {
    const visitor = new Visitor(app.url);
    await visitor.post('/inc');
    const res = await visitor.post('/svc/reload-after-delete');
    expect(res.status).toBe(409);
    expect(res.body.message).toBe('The session ended (logged out, revoked or expired) while this request was running');
  });

  it('touch() moves the expiry in Redis before it resolves: a longer cookie window is in force at once', async () => {
    const visitor = new Visitor(app.url);
    await visitor.post('/inc');
    const res = await visitor.post('/svc/remember-and-touch', { ms: 4 * IDLE_TIMEOUT });
    expect(res.status).toBe(200);
    // Before the touch the key had at most IDLE_TIMEOUT left; after it, close to four times that.
    expect(res.body.pttl).toBeGreaterThan(3 * IDLE_TIMEOUT);
  });

  it('sessionOf() answers the session a request has, and undefined, creating none, for a visitor without one', async () => {
    const visitor = new Visitor(app.url);
    const none = await visitor.get('/svc/session-of');
    expect(none.body).toEqual({ present: false, views: null });
    expect(none.setCookie).toBeNull();

    await visitor.post('/inc');
    expect((await visitor.get('/svc/session-of')).body).toEqual({ present: true, views: 1 });
  });

  it('destroy() and logout() of a visitor without a session answer success and create none', async () => {
    const visitor = new Visitor(app.url);
    const destroyed = await visitor.post('/svc/destroy');
    expect(destroyed.status).toBe(204);
    expect(destroyed.setCookie).toBeNull();
    const loggedOut = await visitor.post('/logout');
    expect(loggedOut.status).toBe(204);
    // Only the cookie that clears: no session was created to be announced.
    expect(loggedOut.setCookie).toMatch(/^sid=;/);
    expect(visitor.cookie).toBeUndefined();
  });

  it('a login whose save fails leaves no session behind, though the handler catches the error and answers 200', async () => {
    const visitor = new Visitor(app.url);
    const res = await visitor.post('/svc/login-or-stay', { id: 'too-large' });
    expect(res.body).toEqual({ loggedIn: false, error: 'PayloadTooLargeException' });
    expect(res.status).toBe(200);
    expect(res.setCookie).toBeNull();
    expect((await visitor.get('/me')).status).toBe(401);
  });

  it.each([
    ['an empty id', ''],
    ['an id that is not a number', 'NaN'],
    ['an id holding a lone surrogate', 'user-\uD800'], // a JSON body carries it as "\ud800"; no index key can name it
  ])('a login with %s is refused naming the user, and the session the request came with keeps its data and its ID', async (_what, id) => {
    const visitor = new Visitor(app.url);
    await visitor.post('/set/cart', { value: ['apple'] });
    const cookie = visitor.cookie;
    const errors: string[] = [];
    app.app.useLogger({ log() {}, warn() {}, error: (message: string) => errors.push(String(message)) });
    try {
      // A JSON body cannot carry NaN: the route turns the string into the number.
      const refused = await visitor.post('/svc/login-as', { id, numeric: id === 'NaN' });
      expect(refused.status).toBe(500);
      expect(refused.setCookie).toBeNull();
    } finally {
      app.app.useLogger(['error']);
    }
    expect(
      errors.some((e) => e.includes('SessionService.login(req, user) needs a user whose "id" is a non-empty string of well-formed Unicode or a finite number')),
    ).toBe(true);
    expect(errors.some((e) => e.includes('"users.id"'))).toBe(false);
    expect(visitor.cookie).toBe(cookie);
    expect((await visitor.get('/whole')).body).toEqual({ cart: ['apple'] });
  });

  it.each([
    ['a value JSON cannot hold', 'bigint', 500, '"user"'],
    ['more bytes than maxSessionBytes', 'draft', 413, `${MAX_SESSION_BYTES}`],
  ])(
    'a login whose user carries %s is refused before the ID changes: the session the request came with keeps its data and its ID',
    async (_what, carry, status, named) => {
      const visitor = new Visitor(app.url);
      await visitor.post('/set/cart', { value: ['apple'] });
      const cookie = visitor.cookie;
      const refused = await visitor.post('/svc/login-carrying', { id: `carrying-${carry}`, carry });
      expect(refused.status).toBe(status);
      expect(refused.body.message).toContain(named);
      expect(refused.setCookie).toBeNull();
      expect(visitor.cookie).toBe(cookie);
      expect((await visitor.get('/whole')).body).toEqual({ cart: ['apple'] });
    },
  );

  it('a regenerate of a session holding a value JSON cannot hold is refused before the ID changes, and the stored session stays', async () => {
    const visitor = new Visitor(app.url);
    await visitor.post('/set/cart', { value: ['pear'] });
    const cookie = visitor.cookie;
    const refused = await visitor.post('/svc/regenerate-with-bigint');
    expect(refused.status).toBe(500);
    expect(refused.body.message).toContain('"views"');
    expect(visitor.cookie).toBe(cookie);
    expect((await visitor.get('/whole')).body).toEqual({ cart: ['pear'] });
  });

  it('a login refused at users.maxSessions (reject) leaves the session the request came with as it was', async () => {
    expect((await new Visitor(app.url).post('/login', { id: 'at-limit' })).status).toBe(200);
    const second = new Visitor(app.url);
    await second.post('/inc');
    const cookie = second.cookie;
    const refused = await second.post('/login', { id: 'at-limit' });
    expect(refused.status).toBe(409);
    expect(refused.body.message).toMatch(/users\.maxSessions/);
    expect(refused.setCookie).toBeNull();
    expect(second.cookie).toBe(cookie);
    expect((await second.get('/peek')).body).toEqual({ views: 1 });
  });

  it('at users.maxSessions (reject), lets a user log in again from the session that holds the place, which moves to the new ID', async () => {
    const visitor = new Visitor(app.url);
    expect((await visitor.post('/login', { id: 'again' })).status).toBe(200);
    const first = visitor.cookie;
    const again = await visitor.post('/login', { id: 'again' });
    expect(again.status).toBe(200);
    expect(visitor.cookie).not.toBe(first);
    expect((await visitor.get('/me')).body).toEqual({ user: { id: 'again', name: 'again' } });
    // Still one session for the user, so another device is still refused.
    expect((await new Visitor(app.url).post('/login', { id: 'again' })).status).toBe(409);
  });

  it('after a logout, a session call in the same request starts a new, empty session under a new ID', async () => {
    const visitor = new Visitor(app.url);
    await visitor.post('/login', { id: 'leaving' });
    const oldCookie = visitor.cookie!;
    const res = await fetch(`${app.url}/logout-then-token`, { method: 'POST', headers: { cookie: oldCookie } });
    expect(res.status).toBe(201);
    const { csrfToken } = (await res.json()) as { csrfToken: string };
    expect(csrfToken).toMatch(/^[\w-]{20,}$/);
    // The old cookie cleared, then the new session's: a browser keeps the last.
    const [cleared, fresh] = res.headers.getSetCookie();
    expect(cleared).toMatch(/^sid=;.*Expires=Thu, 01 Jan 1970/);
    expect(fresh).toMatch(/^sid=s%3A/);
    const next = new Visitor(app.url);
    next.cookie = fresh.split(';')[0];
    expect(next.cookie).not.toBe(oldCookie);
    expect((await next.get('/me')).status).toBe(401);
    expect((await next.get('/csrf')).body).toEqual({ csrfToken });
    const old = new Visitor(app.url);
    old.cookie = oldCookie;
    expect((await old.get('/me')).status).toBe(401);
  });

  it("list() without a request lists the user's sessions, none marked current", async () => {
    const visitor = new Visitor(app.url);
    await visitor.post('/login', { id: 'lister' });
    const sessions = await app.app.get(SessionService).list('lister');
    expect(sessions).toHaveLength(1);
    expect(sessions[0].current).toBe(false);
  });

  it('reseal() without encryption is refused, naming the option', async () => {
    await expect(app.app.get(SessionService).reseal()).rejects.toThrow('SessionModule option "encryption" must be set to reseal sessions');
  });

  it("regenerate() gives the new ID a fresh cookie from the module's options, as express-session's regenerate does", async () => {
    // A window chosen for the old ID ("remember me") is not carried over: the app sets it again after
    // a login or a regenerate, as with express-session, where the new session's Cookie is built
    // from the middleware's options. The data is carried over; the cookie's settings are not.
    const visitor = new Visitor(app.url);
    const first = await visitor.post('/inc');
    expect(first.status).toBe(200);
    const fresh = first.setCookie!;
    const remembered = await visitor.post('/cookie-max-age', { ms: 3_600_000 });
    expect(remembered.status).toBe(200);
    expect(remembered.setCookie).toMatch(/Expires=/i);
    const regenerated = await visitor.post('/regenerate');
    expect(regenerated.status).toBe(204);
    const attributes = (cookie: string) =>
      cookie
        .split(';')
        .slice(1)
        .map((part) => part.trim())
        .filter((part) => !/^expires=/i.test(part))
        .sort();
    expect(attributes(regenerated.setCookie!)).toEqual(attributes(fresh));
    expect(/Expires=/i.test(regenerated.setCookie!)).toBe(/Expires=/i.test(fresh));
    expect((await visitor.get('/whole')).body).toMatchObject({ views: 1 });
  });

  // Last: Redis is interrupted for it.
  it('sessionOf() answers 503 when the session could not be read, never "no session"', async () => {
    const visitor = new Visitor(app.url);
    await visitor.post('/inc');
    await redis.interrupt();
    try {
      const res = await visitor.get('/svc/session-of');
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
    } finally {
      await redis.resume();
    }
  });
});
