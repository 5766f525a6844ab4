import type { HttpPlatform, SessionRequest } from '@app/session/request/http-platform';
import type { Server } from 'node:http';
import { send, type FakeLifecycle } from './platform-doubles';

// What every HttpPlatform does the same way, whatever its framework: run by the unit spec of each
// (libs/session/src/request/*-platform.spec.ts) over its own app, with the fake lifecycle of
// platform-doubles.ts. What differs between them (how a failure is answered, hooks, routing) stays
// in each spec.

/** One platform's app, as the shared tests drive it. */
export interface PlatformUnderTest {
  platform: HttpPlatform;
  fake: FakeLifecycle;
  /** Answers GET `path` with `handler`'s value as JSON; `res` is the framework's response (Express) or reply (Fastify). */
  get(path: string, handler: (req: SessionRequest & Record<string, unknown>, res: object) => unknown): void;
  /** Sets the status the answer goes out with. */
  status(res: object, code: number): void;
  serve(): Promise<Server>;
}

export function behavesAsHttpPlatform(make: () => PlatformUnderTest): void {
  describe('what every HTTP platform does', () => {
    it('reads req.session through the lifecycle until the request holds its own; assigning one makes it own, enumerable and writable', async () => {
      const { get, fake, serve } = make();
      get('/', (req) => {
        const before = req.session as unknown;
        const own = Object.hasOwn(req, 'session');
        req.session = { assigned: 1 } as unknown as SessionRequest['session'];
        const assigned = { own: Object.hasOwn(req, 'session'), enumerable: Object.keys(req).includes('session'), value: req.session };
        req.session = { again: 2 } as unknown as SessionRequest['session'];
        return { before, own, assigned, again: req.session };
      });
      const started = await serve();
      // A route the way in left without a state: no session, and nothing asked of the lifecycle.
      expect(JSON.parse((await send(started, '/')).body)).toEqual({
        own: false,
        assigned: { own: true, enumerable: true, value: { assigned: 1 } },
        again: { again: 2 },
      });
      expect(fake.calls).toEqual([]);
      // A live request whose session was read for the first time: the lifecycle generates one, held as the request's own.
      const live = JSON.parse((await send(started, '/', { headers: { 'x-phase': 'live' } })).body) as { before: unknown; own: boolean };
      expect(live).toMatchObject({ before: { generated: true }, own: true });
      expect(fake.calls).toEqual([expect.stringMatching(/^generate:\d+$/), 'beforeEnd', 'beforeHeaders']);
    });

    it('reads the cookie header, a header by its lower-case name (repeated ones joined), and the status the answer will carry', async () => {
      const { get, platform, serve } = make();
      get('/', (req, res) => ({
        cookie: platform.cookieHeader(req) ?? null,
        token: platform.header(req, 'x-session-token') ?? null,
        repeated: platform.header(req, 'set-cookie') ?? null,
        absent: platform.header(req, 'x-absent') ?? null,
        status: platform.statusCode(res),
      }));
      const started = await serve();
      const answer = await send(started, '/', { headers: { cookie: 'sid=s%3Aabc; theme=dark', 'X-Session-Token': 'tok', 'set-cookie': ['a=1', 'b=2'] } });
      expect(JSON.parse(answer.body)).toEqual({ cookie: 'sid=s%3Aabc; theme=dark', token: 'tok', repeated: 'a=1, b=2', absent: null, status: 200 });
      expect(JSON.parse((await send(started, '/')).body)).toMatchObject({ cookie: null, token: null });
    });

    it('appends one Set-Cookie per call, and sets any other header once, replacing it', async () => {
      const { get, platform, serve } = make();
      get('/', (_req, res) => {
        platform.appendCookie(res, 'sid=one; Path=/');
        platform.appendCookie(res, 'sid=; Path=/old; Expires=Thu, 01 Jan 1970 00:00:00 GMT');
        platform.setHeader(res, 'X-Session-Token', 'first');
        platform.setHeader(res, 'X-Session-Token', 'second');
        return 'ok';
      });
      const answer = await send(await serve(), '/');
      expect(answer.headers['set-cookie']).toEqual(['sid=one; Path=/', 'sid=; Path=/old; Expires=Thu, 01 Jan 1970 00:00:00 GMT']);
      expect(answer.headers['x-session-token']).toBe('second');
    });

    it('sends the cookie of a live session with the headers, and answers only once the save let it', async () => {
      const { get, fake, serve } = make();
      fake.cookie = 'sid=s%3Anew; Path=/; HttpOnly';
      get('/', () => 'the cart');
      const answer = await send(await serve(), '/', { headers: { 'x-phase': 'live' } });
      expect(answer).toMatchObject({ status: 200, body: '"the cart"' });
      expect(answer.headers['set-cookie']).toEqual(['sid=s%3Anew; Path=/; HttpOnly']);
      expect(fake.calls).toEqual(['beforeEnd', 'beforeHeaders']);
      expect(fake.finished).toBe(1);
    });

    it('counts a 503 answered for a session Redis could not load, and nothing for another status', async () => {
      const { get, status, fake, serve } = make();
      get('/', (req, res) => {
        status(res, Number(new URL((req as unknown as { url: string }).url, 'http://x').searchParams.get('status')));
        return 'answered';
      });
      const started = await serve();
      expect((await send(started, '/?status=500', { headers: { 'x-phase': 'failed' } })).status).toBe(500);
      expect(fake.calls).toEqual([]);
      expect((await send(started, '/?status=503', { headers: { 'x-phase': 'pending' } })).status).toBe(503);
      expect(fake.calls).toEqual([]);
      expect((await send(started, '/?status=503', { headers: { 'x-phase': 'failed' } })).status).toBe(503);
      expect(fake.calls).toEqual(['unavailable']);
    });
  });
}
