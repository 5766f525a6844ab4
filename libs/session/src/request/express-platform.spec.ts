import { ServiceUnavailableException } from '@nestjs/common';
import express, { type Express, type Request, type Response } from 'express';
import { createServer, IncomingMessage, ServerResponse, type Server } from 'node:http';
import { Socket } from 'node:net';
import { behavesAsHttpPlatform } from '../../../../test/support/platform-contract';
import { closed, fakeLifecycle, holdState, listening, phaseAsked, send, type FakeLifecycle } from '../../../../test/support/platform-doubles';
import { ExpressPlatform } from './express-platform';
import type { SessionRequest } from './http-platform';

// ExpressPlatform on a real Express app and a real socket, with a fake lifecycle: the hooks on the
// app's prototypes, what it reads of a request, and how it replaces an answer or cuts it.

let server: Server | undefined;
afterEach(async () => {
  if (server) await closed(server);
  server = undefined;
});

interface Setup {
  app: Express;
  platform: ExpressPlatform;
  fake: FakeLifecycle;
}

/** An Express app with the platform installed and a way in that puts the state `x-phase` asks for on the request. */
function setup(store: object = { name: 'store' }): Setup {
  const app = express();
  const platform = new ExpressPlatform(app);
  const fake = fakeLifecycle();
  fake.platform = platform;
  platform.install(store);
  app.use((req, _res, next) => {
    const asked = phaseAsked(req.headers);
    holdState(req, asked && fake.state(asked.phase, asked.ending));
    next();
  });
  return { app, platform, fake };
}

async function serve(app: Express): Promise<Server> {
  server = await listening(createServer(app));
  return server;
}

describe('ExpressPlatform', () => {
  behavesAsHttpPlatform(() => {
    const { app, platform, fake } = setup();
    return {
      platform,
      fake,
      get: (path, handler) => app.get(path, (req, res) => res.type('application/json').send(JSON.stringify(handler(req as never, res) ?? null))),
      status: (res, code) => {
        (res as Response).status(code);
      },
      serve: () => serve(app),
    };
  });

  it('gives every request the store installed last, on the prototype, and hooks the way out once however often it is installed', async () => {
    const { app, platform, fake } = setup({ name: 'first' });
    platform.install({ name: 'second' }); // forRoot's module initialised again (a second app module, a test)
    app.get('/', (req, res) => {
      res.json({ store: (req as unknown as { sessionStore: { name: string } }).sessionStore.name, own: Object.hasOwn(req, 'sessionStore') });
    });
    const answer = await send(await serve(app), '/', { headers: { 'x-phase': 'live' } });
    expect(JSON.parse(answer.body)).toEqual({ store: 'second', own: false });
    expect(fake.calls).toEqual(['beforeEnd', 'beforeHeaders']);
  });

  it('keeps its hooks out of for…in, lets a session be deleted and app code replace the store, and lets middleware wrap res.end as compression does', async () => {
    const { app, fake } = setup();
    app.use((_req, res, next) => {
      const end = res.end.bind(res) as (...args: unknown[]) => Response;
      res.end = ((...args: unknown[]) => {
        res.setHeader('X-Wrapped', 'yes');
        return end(...args);
      }) as Response['end'];
      next();
    });
    app.get('/', (req, res) => {
      const listed: string[] = [];
      for (const key in req) if (key === 'session' || key === 'sessionStore') listed.push(key);
      const request = req as unknown as Record<string, unknown>;
      request.session = { mine: true };
      const deleted = delete request.session;
      request.sessionStore = 'replaced by app code';
      res.json({ listed, deleted, after: request.session ?? null, store: request.sessionStore });
    });
    const answer = await send(await serve(app), '/');
    expect(JSON.parse(answer.body)).toEqual({ listed: [], deleted: true, after: null, store: 'replaced by app code' });
    expect(answer.headers['x-wrapped']).toBe('yes');
    expect(fake.calls).toEqual([]);
  });

  it('reads the path before a router rewrote it, describes the request, and finds its response', async () => {
    const { app, platform } = setup();
    const router = express.Router();
    router.post('/cart', (req, res) => {
      const request = req as unknown as SessionRequest;
      res.json({ path: platform.path(request), routed: req.url, described: platform.describe(request), response: platform.responseOf(request) === res });
    });
    app.use('/shop', router);
    const answer = await send(await serve(app), '/shop/cart?page=2', { method: 'POST' });
    expect(JSON.parse(answer.body)).toEqual({ path: '/shop/cart?page=2', routed: '/cart?page=2', described: 'POST /shop/cart?page=2', response: true });
  });

  it("decides HTTPS from X-Forwarded-Proto when trustProxy says so, else from Express's req.secure", async () => {
    const { app, platform } = setup();
    app.set('trust proxy', true);
    app.get('/', (req, res) => {
      const request = req as unknown as SessionRequest;
      res.json([platform.isHttps(request, true), platform.isHttps(request, false), platform.isHttps(request, undefined)]);
    });
    const started = await serve(app);
    expect(JSON.parse((await send(started, '/', { headers: { 'x-forwarded-proto': 'https' } })).body)).toEqual([true, false, true]);
    expect(JSON.parse((await send(started, '/', { headers: { 'x-forwarded-proto': 'http' } })).body)).toEqual([false, false, false]);
    app.set('trust proxy', false); // Express's verdict now ignores the header; trustProxy: true still reads it
    expect(JSON.parse((await send(started, '/', { headers: { 'x-forwarded-proto': 'https' } })).body)).toEqual([true, false, false]);
  });

  describe('the way out', () => {
    function answering(app: Express, handler: (req: Request, res: Response) => void): Express {
      app.all('/', handler);
      return app;
    }

    it('passes straight through a response without a live session', async () => {
      const { app, fake } = setup();
      fake.cookie = 'sid=never';
      answering(app, (_req, res) => {
        res.send('plain');
      });
      const started = await serve(app);
      for (const phase of [undefined, 'pending']) {
        const answer = await send(started, '/', { headers: phase ? { 'x-phase': phase } : {} });
        expect(answer).toMatchObject({ status: 200, body: 'plain' });
        expect(answer.headers['set-cookie']).toBeUndefined();
      }
      expect(fake.calls).toEqual([]);
    });

    it('ends a response whose session is already on its way out without a second save, its headers still prepared', async () => {
      const { app, fake } = setup();
      answering(app, (_req, res) => {
        res.send('after the save');
      });
      const answer = await send(await serve(app), '/', { headers: { 'x-phase': 'live-ending' } });
      expect(answer).toMatchObject({ status: 200, body: 'after the save' });
      expect(fake.calls).toEqual(['beforeHeaders']);
    });

    it("replaces the handler's answer with the failure's, keeping headers such as X-Replica", async () => {
      const { app, fake } = setup();
      fake.atEnd = { fail: { exception: new ServiceUnavailableException('Redis is away'), error: new Error('connection refused') } };
      answering(app, (_req, res) => {
        res.setHeader('X-Replica', 'b');
        res.setHeader('ETag', '"v1"');
        res.setHeader('Set-Cookie', 'theme=dark');
        res.type('text/html').send('<p>a long handler answer that must not leak</p>');
      });
      const answer = await send(await serve(app), '/', { headers: { 'x-phase': 'live' } });
      expect(answer.status).toBe(503);
      expect(JSON.parse(answer.body)).toEqual({ message: 'Redis is away', error: 'Service Unavailable', statusCode: 503 });
      expect(answer.headers).toMatchObject({
        'x-replica': 'b',
        'content-type': 'application/json; charset=utf-8',
        'content-length': String(Buffer.byteLength(answer.body)),
      });
      expect(answer.headers.etag).toBeUndefined();
      expect(answer.headers['set-cookie']).toBeUndefined();
      expect(fake.finished).toBe(0);
    });

    it('answers 500 with the error message for a failure that is not an HTTP exception', async () => {
      const { app, fake } = setup();
      fake.atEnd = { fail: { exception: new Error('bug'), error: new Error('the store broke') } };
      answering(app, (_req, res) => {
        res.send('x');
      });
      const answer = await send(await serve(app), '/', { headers: { 'x-phase': 'live' } });
      expect(answer.status).toBe(500);
      expect(JSON.parse(answer.body)).toEqual({ statusCode: 500, message: 'the store broke', error: 'Internal Server Error' });
    });

    it('cuts the connection when the failure comes after the headers went out', async () => {
      const { app, fake } = setup();
      fake.atEnd = { fail: { exception: new ServiceUnavailableException(), error: new Error('down') } };
      answering(app, (_req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.write('the first part, streamed');
        res.end();
      });
      await expect(send(await serve(app), '/', { headers: { 'x-phase': 'live' } })).rejects.toThrow();
      expect(fake.calls).toEqual(['beforeHeaders', 'beforeEnd']);
    });

    it('lets a response that belongs to no request through (Express always sets res.req; a bare response may not)', () => {
      const { app, fake } = setup();
      const res = new ServerResponse(new IncomingMessage(new Socket()));
      Object.setPrototypeOf(res, app.response);
      Reflect.deleteProperty(res, 'req');
      expect(() => {
        res.writeHead(204);
        res.end();
      }).not.toThrow();
      expect(fake.calls).toEqual([]);
    });
  });
});
