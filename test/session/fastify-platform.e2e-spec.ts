import { Controller, Get, HttpCode, Module, Post, Req, Res, type INestApplication, type LoggerService } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { SessionModule, type SessionModuleOptions } from '@app/session';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { createNestApp } from '../support/http-platform';
import { TEST_SECRET } from './support/session-app';
import { TestController } from './support/test-controller';
import { Visitor } from './support/http-client';

/** `req.session` as Fastify code sees it: express-session's Session plus `@fastify/session`'s calls. */
type FastifySessionCalls = {
  get(key: string): unknown;
  set(key: string, value: unknown): void;
  readonly sessionId: string;
  regenerate(keep?: string[]): Promise<void>;
  save(): Promise<void>;
};
type SessionRequest = FastifyRequest & { session: FastifySessionCalls; sessionID: string };

@Controller('fastify')
class FastifyCallsController {
  /** What a Fastify plugin written for `@fastify/session` does at login. */
  @Post('plugin-login')
  @HttpCode(200)
  async pluginLogin(@Req() req: SessionRequest) {
    const before = req.session.sessionId;
    await req.session.regenerate(['cart']);
    req.session.set('user', { id: 'plugin-user' });
    return { before, after: req.session.sessionId, sameAsRequest: req.session.sessionId === req.sessionID, cart: req.session.get('cart') ?? null };
  }

  @Get('read')
  read(@Req() req: SessionRequest) {
    return { user: req.session.get('user') ?? null, cart: req.session.get('cart') ?? null };
  }

  /** A hijacked reply skips onSend: the handler saves, then writes the raw response itself. */
  @Post('hijacked')
  async hijacked(@Req() req: SessionRequest, @Res() reply: FastifyReply) {
    req.session.set('streamed', true);
    await req.session.save();
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/plain' });
    reply.raw.end('saved first');
  }
}

/** The Fastify platform's own behaviour; the shared e2e suites run on it too (`npm run test:fastify`). */
describe('on Fastify', () => {
  let redis: RedisServerHandle;
  const running: INestApplication[] = [];

  beforeAll(async () => {
    redis = await startRedis();
  });

  afterAll(async () => {
    await Promise.all(running.map((app) => app.close()));
    await redis?.stop();
  });

  async function start(options: Partial<SessionModuleOptions>, trustProxy?: boolean, logger?: LoggerService): Promise<string> {
    @Module({
      imports: [SessionModule.forRoot({ secret: TEST_SECRET, redis: redis.url, prefix: uniquePrefix('fastify'), ...options })],
      controllers: [TestController, FastifyCallsController],
    })
    class FastifyAppModule {}
    const app = await createNestApp(FastifyAppModule, { logger: logger ?? ['error'] }, 'fastify', { trustProxy });
    running.push(app);
    await app.listen(0, '127.0.0.1');
    return (await app.getUrl()).replace('[::1]', '127.0.0.1');
  }

  it("answers @fastify/session's calls: get, set, sessionId, regenerate keeping listed keys as a promise", async () => {
    const url = await start({});
    const visitor = new Visitor(url);
    await visitor.post('/set/cart', { value: ['tea'] });
    await visitor.post('/set/scratch', { value: 'dropped' });
    const anonymous = visitor.cookie;
    const login = await visitor.post('/fastify/plugin-login');
    expect(login.status).toBe(200);
    expect(login.body.after).not.toBe(login.body.before);
    expect(login.body).toMatchObject({ sameAsRequest: true, cart: ['tea'] });
    expect(visitor.cookie).not.toBe(anonymous);
    expect((await visitor.get('/fastify/read')).body).toEqual({ user: { id: 'plugin-user' }, cart: ['tea'] });
    expect((await visitor.get('/whole')).body).not.toHaveProperty('scratch');
    const old = Object.assign(new Visitor(url), { cookie: anonymous });
    expect((await old.get('/fastify/read')).body).toEqual({ user: null, cart: null });
  });

  it('keeps what a hijacked reply saved explicitly', async () => {
    const url = await start({});
    const visitor = new Visitor(url);
    await visitor.post('/set/views', { value: 1 }); // the cookie comes from an earlier, ordinary reply
    const res = await visitor.post('/fastify/hijacked');
    expect(res.status).toBe(200);
    expect(res.body).toBe('saved first');
    expect((await visitor.get('/whole')).body).toMatchObject({ views: 1, streamed: true });
  });

  it('loads the session after Nest middleware on the routes forRoutes/exclude leave it', async () => {
    const url = await start({ exclude: ['public'] });
    const visitor = new Visitor(url);
    await visitor.post('/set/views', { value: 3 });
    expect(visitor.cookie).toMatch(/^sid=/);
    expect((await visitor.get('/peek')).body).toEqual({ views: 3 });
    expect((await visitor.get('/public')).status).toBe(200);
    expect((await new Visitor(url).get('/peek')).body).toEqual({ views: null });
  });

  it("decides cookie.secure: 'auto' by Fastify's trustProxy", async () => {
    const trusting = await start({ cookie: { secure: 'auto' } }, true);
    const viaHttps = { 'x-forwarded-proto': 'https' };
    const behindProxy = await new Visitor(trusting).post('/set/views', { value: 1 }, viaHttps);
    expect(behindProxy.setCookie).toMatch(/;\s*Secure/i);
    const plain = await new Visitor(trusting).post('/set/views', { value: 1 });
    expect(plain.setCookie).toMatch(/^sid=/);
    expect(plain.setCookie).not.toMatch(/;\s*Secure/i);
  });

  it('logs an error, naming the request, when a reply cannot carry the Secure cookie', async () => {
    const errors: string[] = [];
    const logger: LoggerService = { log: () => undefined, warn: () => undefined, error: (message: unknown) => void errors.push(String(message)) };
    // Not trusting the proxy: X-Forwarded-Proto is ignored, the request is plain HTTP.
    const url = await start({ cookie: { secure: true } }, false, logger);
    const res = await new Visitor(url).post('/set/views', { value: 1 }, { 'x-forwarded-proto': 'https' });
    expect(res.status).toBe(200);
    expect(res.setCookie).toBeNull();
    expect(errors).toEqual([expect.stringMatching(/Secure session cookie of POST \/set\/views was not sent.*trustProxy/)]);
  });
});
