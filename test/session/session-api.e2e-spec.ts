import { Body, Controller, HttpCode, Post, Req } from '@nestjs/common';
import type { Request } from 'express';
import Redis from 'ioredis';
import { setTimeout as delay } from 'node:timers/promises';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { sessionRedisKey } from '../support/key-scheme';
import { startSessionApp, type RunningApp } from './support/session-app';
import { Visitor } from './support/http-client';

const ABSOLUTE_MS = 60 * 60_000; // 1 h
const DAY_MS = 24 * 60 * 60_000;

type Callback = (error?: Error) => void;
/** `req.session` as the README promises it on both platforms: express-session's Session plus `@fastify/session`'s calls. */
type PromisedSession = Record<string, unknown> & {
  reload(callback?: Callback): unknown;
  save(callback?: Callback): unknown;
  regenerate(keep: string[]): Promise<void>;
  get?: (key: string) => unknown;
  sessionId?: string;
};

@Controller('api')
class SessionApiController {
  /** express-session's `reload(callback)`, as app code and libraries call it, then the calls README says `req.session` has. */
  @Post('reload-then-use')
  @HttpCode(200)
  async reloadThenUse(@Req() req: Request) {
    const before = req.session as unknown as PromisedSession;
    await new Promise<void>((resolve, reject) => before.reload((error) => (error ? reject(error) : resolve())));
    const session = req.session as unknown as PromisedSession;
    const saved = session.save() as Promise<void> | undefined; // the promise form (no callback)
    const saveAnswersPromise = typeof saved?.then === 'function';
    if (saveAnswersPromise) await saved;
    return {
      get: typeof session.get === 'function' ? session.get('views') : 'no get()',
      sessionId: session.sessionId ?? 'no sessionId',
      saveAnswersPromise,
    };
  }

  /** A plugin refreshes the session from Redis, then starts a new ID keeping the cart (`@fastify/session`'s form). */
  @Post('reload-then-regenerate')
  @HttpCode(200)
  async reloadThenRegenerate(@Req() req: Request) {
    const before = req.sessionID;
    await (req.session as unknown as PromisedSession).reload();
    await (req.session as unknown as PromisedSession).regenerate(['cart']);
    return { before, after: req.sessionID };
  }

  /** A new visitor's first request: some data and a long "remember me" window, set by app code. */
  @Post('remember-me')
  @HttpCode(200)
  rememberMe(@Req() req: Request, @Body() body: { ms: number }) {
    (req.session as unknown as Record<string, unknown>).theme = 'dark';
    req.session.cookie.maxAge = body.ms;
    return { ok: true };
  }
}

/**
 * express-session's Session API (with `@fastify/session`'s calls), the cookie and the timeouts, as app
 * code and libraries use them, on either platform (TEST_HTTP_PLATFORM).
 */
describe('req.session as app code and libraries use it', () => {
  let redis: RedisServerHandle;
  let admin: Redis;
  let app: RunningApp;
  const prefix = uniquePrefix('sess-api');

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    // trustProxy: X-Forwarded-Proto decides whether a request came over HTTPS (a TLS proxy in front).
    app = await startSessionApp({ redis: redis.url, prefix, trustProxy: true, absoluteTimeout: ABSOLUTE_MS }, [SessionApiController]);
  });

  afterAll(async () => {
    admin?.disconnect();
    await app?.close();
    await redis?.stop();
  });

  const sidOf = (visitor: Visitor) => decodeURIComponent(visitor.cookie!.split('=')[1]).slice(2).split('.')[0];
  const keyOf = (visitor: Visitor) => sessionRedisKey(prefix, sidOf(visitor));

  it('after req.session.reload(callback), req.session still has get(), sessionId and the promise forms', async () => {
    // README (Fastify): `req.session` is express-session's Session plus `@fastify/session`'s calls, with
    // promise forms, on both platforms. express-session's reload calls the store's `createSession`, which
    // must put the request's own session class back, not a bare express-session Session (on which every
    // later get()/sessionId/promise-form call broke).
    const visitor = new Visitor(app.url);
    expect((await visitor.post('/inc')).status).toBe(200);
    const res = await visitor.post('/api/reload-then-use');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ get: 1, sessionId: sidOf(visitor), saveAnswersPromise: true });
  });

  it('regenerate (promise form, keeping listed keys) after reload() answers a promise, moves the session and loses nothing', async () => {
    // After reload() the request held a bare express-session Session, whose regenerate took the array as
    // its callback: the `await` went on at once, the reply left with the old cookie, the store then
    // deleted the old session and threw outside any request, and the cart was gone.
    const visitor = new Visitor(app.url);
    await visitor.post('/set/cart', { value: ['tea'] });
    const oldCookie = visitor.cookie;
    const res = await visitor.post('/api/reload-then-regenerate');
    expect(res.status).toBe(200);
    expect(res.body.after).not.toBe(res.body.before);
    expect(visitor.cookie).not.toBe(oldCookie);
    expect((await visitor.get('/whole')).body).toEqual({ cart: ['tea'] });
  });

  it('a session key named after a method of req.session (get, set, sessionId) is refused with a message naming it, never dropped or a bare 500', async () => {
    // README ("How it works"): keys the session object inherits "answer a 500 whose message names the
    // key, and nothing of the session is written". `get` and `set` were written, then dropped without a
    // word by the next request (skipped on load, deleted by its save); `sessionId` was a bare 500.
    const outcomes: Record<string, unknown> = {};
    for (const key of ['get', 'set', 'sessionId']) {
      const visitor = new Visitor(app.url);
      expect((await visitor.post('/inc')).status).toBe(200);
      const res = await visitor.post(`/set/${key}`, { value: 'x' });
      expect((await visitor.post('/inc')).status).toBe(200); // a later request of the same visitor
      outcomes[key] = {
        status: res.status,
        namesKey: typeof res.body?.message === 'string' && res.body.message.includes(`"${key}"`),
        storedAfterward: await admin.hexists(keyOf(visitor), key),
      };
    }
    const refused = { status: 500, namesKey: true, storedAfterward: 0 };
    expect(outcomes).toEqual({ get: refused, set: refused, sessionId: refused });
  });

  it("a session created over HTTPS (cookie.secure: 'auto') stores no cookie settings of its own", async () => {
    // README: `:k`, the cookie's settings, is stored "only when they differ from the module's". Under the
    // default `secure: 'auto'`, Secure on an HTTPS request is the module's setting: every HTTPS session
    // stored `:k` (in two pieces), more memory per session in production.
    const overHttps = new Visitor(app.url);
    expect((await overHttps.post('/inc', undefined, { 'x-forwarded-proto': 'https' })).setCookie).toMatch(/;\s*Secure/i);
    const overHttp = new Visitor(app.url);
    expect((await overHttp.post('/inc', undefined, { 'x-forwarded-proto': 'http' })).status).toBe(200);
    const fields = async (visitor: Visitor) => Object.keys(await admin.hgetall(keyOf(visitor))).sort();
    expect(await fields(overHttp)).toEqual([':c', ':e', 'views']);
    expect(await fields(overHttps)).toEqual(await fields(overHttp));
  });

  it("a new session's first cookie does not outlive its absolute timeout when app code sets a long maxAge", async () => {
    // A persistent cookie's Expires stops at the absolute deadline, where Redis ends the session; the
    // first response of a new session escaped the cap (its creation time is set by the save, after the
    // cookie is prepared).
    const visitor = new Visitor(app.url);
    const res = await visitor.post('/api/remember-me', { ms: 30 * DAY_MS });
    expect(res.status).toBe(200);
    const expires = Date.parse(/Expires=([^;]+)/i.exec(res.setCookie!)![1]);
    const redisDeadline = Number(await admin.call('PEXPIRETIME', keyOf(visitor)));
    expect(redisDeadline).toBeLessThanOrEqual(Date.now() + ABSOLUTE_MS);
    expect(expires).toBeLessThanOrEqual(redisDeadline);
  });

  it("req.session.regenerate(['user', …]) keeps the session's absolute deadline, as SessionService.regenerate does", async () => {
    // README: absoluteTimeout runs from "creation or login". A regenerate that carries keys over is
    // neither: SessionService.regenerate keeps the creation time (regenerate-absolute-timeout spec), and
    // so does `@fastify/session`'s form, or an app renewing IDs now and then would keep a stolen session
    // alive for ever.
    const visitor = new Visitor(app.url);
    expect((await visitor.post('/login', { id: 'keeper' })).status).toBe(200);
    const createdAt = await admin.hget(keyOf(visitor), ':c');
    await delay(50);
    const oldKey = keyOf(visitor);
    expect((await visitor.post('/regenerate-keeping', { keep: ['user', 'csrfToken'] })).status).toBe(204);
    expect(keyOf(visitor)).not.toBe(oldKey);
    expect(await admin.hget(keyOf(visitor), 'user')).toContain('keeper');
    expect(await admin.hget(keyOf(visitor), ':c')).toBe(createdAt);
    expect(Number(await admin.call('PEXPIRETIME', keyOf(visitor)))).toBeLessThanOrEqual(Number(createdAt) + ABSOLUTE_MS);
  });
});

describe("a persistent cookie under cookie.secure: 'auto'", () => {
  let redis: RedisServerHandle;
  let admin: Redis;
  let app: RunningApp;
  const prefix = uniquePrefix('sess-api-auto');

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    app = await startSessionApp({ redis: redis.url, prefix, trustProxy: true, cookie: { persistent: true } });
  });

  afterAll(async () => {
    admin?.disconnect();
    await app?.close();
    await redis?.stop();
  });

  it("is Secure on every HTTPS response of a session whose settings are the module's, none stored", async () => {
    // Sent again on every response to slide its expiry: each HTTPS one Secure, though the session keeps
    // no settings of its own (what Redis holds says nothing of Secure), and a plain HTTP one not.
    const https = { 'x-forwarded-proto': 'https' };
    const visitor = new Visitor(app.url);
    expect((await visitor.post('/inc', undefined, https)).setCookie).toMatch(/;\s*Secure/i);
    const key = sessionRedisKey(prefix, decodeURIComponent(visitor.cookie!.split('=')[1]).slice(2).split('.')[0]);
    for (let i = 0; i < 2; i++) expect((await visitor.post('/inc', undefined, https)).setCookie).toMatch(/;\s*Secure/i);
    expect(Object.keys(await admin.hgetall(key)).sort()).toEqual([':c', ':e', 'views']);
    expect((await visitor.post('/inc', undefined, { 'x-forwarded-proto': 'http' })).setCookie).not.toMatch(/Secure/i);
  });
});
