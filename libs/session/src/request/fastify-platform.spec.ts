import { ServiceUnavailableException } from '@nestjs/common';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import { Readable } from 'node:stream';
import { behavesAsHttpPlatform } from '../../../../test/support/platform-contract';
import { closed, fakeLifecycle, holdState, phaseAsked, send, type FakeLifecycle } from '../../../../test/support/platform-doubles';
import { FastifyPlatform } from './fastify-platform';
import type { SessionRequest } from './http-platform';

// FastifyPlatform on a real Fastify instance and a real socket, with a fake lifecycle: its request
// decorators, the way in as a hook, the way out in `onSend`, and how it replaces an answer or cuts it.

let app: FastifyInstance | undefined;
afterEach(async () => {
  if (app?.server.listening) await closed(app.server);
  await app?.close();
  app = undefined;
});

interface Setup {
  app: FastifyInstance;
  platform: FastifyPlatform;
  fake: FakeLifecycle;
  /** The requests the way in was called for, by URL. */
  handled: string[];
}

/**
 * A Fastify instance with the platform installed and a way in that puts the state `x-phase` asks for on
 * the request; `afterMiddleware` mounts it as the module does under `forRoutes`/`exclude`, for the
 * requests marked by an `x-routed` header here (Nest's middleware marks them there).
 */
function setup(options: FastifyServerOptions = {}, afterMiddleware = false): Setup {
  app = Fastify(options);
  const platform = new FastifyPlatform(app);
  const fake = fakeLifecycle();
  fake.platform = platform;
  const handled: string[] = [];
  platform.install({ name: 'store' });
  if (afterMiddleware) {
    app.addHook('onRequest', (request, _reply, done) => {
      if (request.headers['x-routed'] !== undefined) platform.markRouted(request.raw);
      done();
    });
  }
  platform.mountWayIn((req, next) => {
    const request = req as unknown as { url: string; headers: Record<string, string> };
    handled.push(request.url);
    if (request.headers['x-way-in-fails'] !== undefined) return next(new Error('the way in failed'));
    const asked = phaseAsked(request.headers);
    holdState(req, asked && fake.state(asked.phase, asked.ending));
    next();
  }, afterMiddleware);
  return { app, platform, fake, handled };
}

async function serve(instance: FastifyInstance) {
  await instance.listen({ port: 0, host: '127.0.0.1' });
  return instance.server;
}

describe('FastifyPlatform', () => {
  behavesAsHttpPlatform(() => {
    const { app, platform, fake } = setup();
    return {
      platform,
      fake,
      get: (path, handler) => {
        app.get(path, (request, reply) => {
          reply.type('application/json');
          return JSON.stringify(handler(request as never, reply) ?? null);
        });
      },
      status: (res, code) => {
        (res as FastifyReply).code(code);
      },
      serve: () => serve(app),
    };
  });

  it('gives every request the store installed last, and adds its decorators and hooks once however often it is installed', async () => {
    const { app, platform, fake } = setup();
    platform.install({ name: 'second' }); // a second decoration would throw: Fastify refuses a name twice
    app.get('/', (request) => {
      const req = request as unknown as { sessionStore: { name: string }; sessionID: unknown };
      return { store: req.sessionStore.name, sessionID: req.sessionID ?? null, declared: 'sessionID' in request };
    });
    const answer = await send(await serve(app), '/', { headers: { 'x-phase': 'live' } });
    expect(JSON.parse(answer.body)).toEqual({ store: 'second', sessionID: null, declared: true });
    expect(fake.calls).toEqual(['beforeEnd', 'beforeHeaders']);
  });

  it('lets a session be deleted, the accessor answering again', async () => {
    const { app } = setup();
    app.get('/', (request) => {
      const req = request as unknown as Record<string, unknown>;
      req.session = { mine: true };
      const deleted = delete req.session;
      return { deleted, after: req.session ?? null };
    });
    expect(JSON.parse((await send(await serve(app), '/')).body)).toEqual({ deleted: true, after: null });
  });

  it('runs the way in on every request, keeping the reply for a logout; an error it passes on answers the request', async () => {
    const { app, platform, handled } = setup();
    app.get('/a', async (request, reply) => ({ kept: platform.responseOf(request as unknown as SessionRequest) === reply }));
    const started = await serve(app);
    expect(JSON.parse((await send(started, '/a')).body)).toEqual({ kept: true });
    const failed = await send(started, '/a', { headers: { 'x-way-in-fails': '1' } });
    expect(failed.status).toBe(500);
    expect(JSON.parse(failed.body)).toMatchObject({ message: 'the way in failed' });
    expect(handled).toEqual(['/a', '/a']);
  });

  it('after Nest middleware, runs the way in only on the requests the middleware marked, their body still parsed', async () => {
    const { app, platform, handled } = setup({}, true);
    app.post('/a', async (request, reply) => ({ kept: platform.responseOf(request as unknown as SessionRequest) === reply, body: request.body }));
    const started = await serve(app);
    const json = { method: 'POST', headers: { 'content-type': 'application/json' } };
    const marked = await send(started, '/a', { ...json, headers: { ...json.headers, 'x-routed': '1', 'content-length': '9' }, body: '{"n":"m"}' });
    expect(JSON.parse(marked.body)).toEqual({ kept: true, body: { n: 'm' } });
    const unmarked = await send(started, '/a', { ...json, headers: { ...json.headers, 'content-length': '9' }, body: '{"n":"u"}' });
    expect(JSON.parse(unmarked.body)).toEqual({ kept: false, body: { n: 'u' } });
    const failed = await send(started, '/a', {
      ...json,
      headers: { ...json.headers, 'x-routed': '1', 'x-way-in-fails': '1', 'content-length': '2' },
      body: '{}',
    });
    expect(failed.status).toBe(500);
    expect(handled).toEqual(['/a', '/a']);
  });

  it('reads the path before rewriteUrl, and describes the request as routed', async () => {
    const { app, platform } = setup({ rewriteUrl: (raw) => raw.url!.replace('/old/', '/new/') });
    app.post('/new/cart', (request) => {
      const req = request as unknown as SessionRequest;
      return { path: platform.path(req), described: platform.describe(req) };
    });
    const answer = await send(await serve(app), '/old/cart?page=2', { method: 'POST' });
    expect(JSON.parse(answer.body)).toEqual({ path: '/old/cart?page=2', described: 'POST /new/cart?page=2' });
  });

  it("decides HTTPS from X-Forwarded-Proto when trustProxy says so, else from Fastify's request.protocol", async () => {
    for (const trustProxy of [true, false]) {
      const { app, platform } = setup({ trustProxy });
      app.get('/', (request) => {
        const req = request as unknown as SessionRequest;
        return [platform.isHttps(req, true), platform.isHttps(req, false), platform.isHttps(req, undefined)];
      });
      const started = await serve(app);
      expect(JSON.parse((await send(started, '/', { headers: { 'x-forwarded-proto': 'https' } })).body)).toEqual([true, false, trustProxy]);
      expect(JSON.parse((await send(started, '/', { headers: { 'x-forwarded-proto': 'http' } })).body)).toEqual([false, false, false]);
      await closed(app.server);
      await app.close();
    }
  });

  describe('the way out', () => {
    it('passes straight through a reply without a live session, or one already on its way out', async () => {
      const { app, fake } = setup();
      fake.cookie = 'sid=never';
      app.get('/', () => 'plain');
      const started = await serve(app);
      for (const phase of [undefined, 'pending', 'live-ending']) {
        const answer = await send(started, '/', { headers: phase ? { 'x-phase': phase } : {} });
        expect(answer).toMatchObject({ status: 200, body: 'plain' });
        expect(answer.headers['set-cookie']).toBeUndefined();
      }
      expect(fake.calls).toEqual([]);
    });

    it("replaces the handler's payload with the failure's, keeping headers such as X-Replica, and closes a stream it returned", async () => {
      const { app, fake } = setup();
      fake.atEnd = { fail: { exception: new ServiceUnavailableException('Redis is away'), error: new Error('connection refused') }, thenFinish: true };
      const stream = new Readable({ read() {} });
      app.get('/', async (_request, reply) => {
        // A length the handler gave its own payload must not go out with the failure's body.
        reply.header('X-Replica', 'b').header('ETag', '"v1"').header('set-cookie', 'theme=dark').header('content-length', '5000').type('text/html');
        return reply.send(stream);
      });
      const answer = await send(await serve(app), '/', { headers: { 'x-phase': 'live' } });
      expect(answer.status).toBe(503);
      expect(JSON.parse(answer.body)).toEqual({ message: 'Redis is away', error: 'Service Unavailable', statusCode: 503 });
      expect(answer.headers).toMatchObject({ 'x-replica': 'b', 'content-type': 'application/json; charset=utf-8' });
      expect(answer.headers.etag).toBeUndefined();
      expect(answer.headers['set-cookie']).toBeUndefined();
      expect(stream.destroyed).toBe(true);
      // The lifecycle's finish after the failure changes nothing: no cookie prepared, the payload sent once.
      expect(fake.calls).toEqual(['beforeEnd']);
      expect(fake.finished).toBe(1);
    });

    it('answers the failure itself when called outside onSend, before anything was sent', async () => {
      const { app, platform } = setup();
      app.get('/', (_request, reply) => {
        reply.header('X-Replica', 'c');
        platform.fail(reply, new Error('bug'), new Error('the store broke'));
      });
      const answer = await send(await serve(app), '/');
      expect(answer.status).toBe(500);
      expect(answer.headers['x-replica']).toBe('c');
      expect(JSON.parse(answer.body)).toEqual({ statusCode: 500, message: 'the store broke', error: 'Internal Server Error' });
    });

    it('cuts the connection when the failure comes after the reply went out (a hijacked reply)', async () => {
      const { app, platform } = setup();
      app.get('/', (_request, reply) => {
        reply.hijack();
        reply.raw.writeHead(200, { 'content-type': 'text/plain' });
        reply.raw.write('the first part, streamed');
        setImmediate(() => platform.fail(reply, new ServiceUnavailableException(), new Error('down')));
      });
      await expect(send(await serve(app), '/')).rejects.toThrow();
    });

    it('cuts the connection of a hijacked reply even before its handler wrote anything', async () => {
      const { app, platform } = setup();
      app.get('/', (_request, reply) => {
        reply.hijack();
        platform.fail(reply, new ServiceUnavailableException(), new Error('down'));
      });
      await expect(send(await serve(app), '/')).rejects.toThrow();
    });
  });
});
