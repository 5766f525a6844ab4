import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { startSessionApp, type RunningApp } from './support/session-app';
import { Visitor } from './support/http-client';

/** AuthenticatedGuard, CsrfGuard and the CSRF token's life: issued, checked, rotated at login. */
describe('guards and CSRF', () => {
  let redis: RedisServerHandle;
  let app: RunningApp;

  beforeAll(async () => {
    redis = await startRedis();
    app = await startSessionApp({ redis: redis.url, prefix: uniquePrefix('csrf') });
  });

  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it('answers 401 without a logged-in user and lets the user through after login', async () => {
    const visitor = new Visitor(app.url);
    const anonymous = await visitor.get('/me');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toEqual({ statusCode: 401, message: 'Not logged in', error: 'Unauthorized' });
    expect(anonymous.setCookie).toBeNull(); // checking costs no session
    await visitor.post('/login', { id: 'u1', name: 'Ada' });
    expect((await visitor.get('/me')).body).toEqual({ user: { id: 'u1', name: 'Ada' } });
  });

  it('accepts an unsafe request with the session token and rejects it without or with a wrong one, running nothing', async () => {
    const visitor = new Visitor(app.url);
    const { csrfToken } = (await visitor.get('/csrf')).body;
    expect(csrfToken).toMatch(/^[\w-]{43}$/);

    for (const headers of [{} as Record<string, string>, { 'x-csrf-token': 'wrong' }, { 'x-csrf-token': csrfToken.slice(0, -1) }, { 'x-csrf-token': '' }]) {
      const res = await visitor.post('/protected', undefined, headers);
      expect(res.status).toBe(403);
      expect(res.body.message).toBe('Missing or invalid CSRF token');
    }
    expect((await visitor.get('/peek')).body).toEqual({ views: null }); // the handler never ran

    const ok = await visitor.post('/protected', undefined, { 'x-csrf-token': csrfToken });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ views: 1 });
  });

  it("rejects a token from another visitor's session", async () => {
    const alice = new Visitor(app.url);
    const mallory = new Visitor(app.url);
    await alice.get('/csrf');
    const { csrfToken } = (await mallory.get('/csrf')).body;
    expect((await alice.post('/protected', undefined, { 'x-csrf-token': csrfToken })).status).toBe(403);
  });

  it('rejects an unsafe request from a visitor without a session, without creating one', async () => {
    const visitor = new Visitor(app.url);
    const res = await visitor.post('/protected', undefined, { 'x-csrf-token': 'anything' });
    expect(res.status).toBe(403);
    expect(res.setCookie).toBeNull();
  });

  it('rotates the token at login; the old one stops working', async () => {
    const visitor = new Visitor(app.url);
    const before = (await visitor.get('/csrf')).body.csrfToken;
    const login = await visitor.post('/login', { id: 'u2' });
    expect(login.body.csrfToken).toMatch(/^[\w-]{43}$/);
    expect(login.body.csrfToken).not.toBe(before);
    expect((await visitor.post('/protected', undefined, { 'x-csrf-token': before })).status).toBe(403);
    expect((await visitor.post('/protected', undefined, { 'x-csrf-token': login.body.csrfToken })).status).toBe(200);
  });

  it('lets safe methods through without a token', async () => {
    expect((await new Visitor(app.url).get('/csrf')).status).toBe(200);
  });

  it('checks POST, PUT, PATCH and DELETE, and lets GET, HEAD and OPTIONS through without a token', async () => {
    const visitor = new Visitor(app.url);
    const { csrfToken } = (await visitor.get('/csrf')).body;
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      expect({ method, status: (await visitor.request(method, '/guarded')).status }).toEqual({ method, status: 403 });
      const ok = await visitor.request(method, '/guarded', { headers: { 'x-csrf-token': csrfToken } });
      expect({ method, status: ok.status, body: ok.body }).toEqual({ method, status: 200, body: { method } });
    }
    for (const method of ['GET', 'HEAD', 'OPTIONS']) {
      expect({ method, status: (await visitor.request(method, '/guarded')).status }).toEqual({ method, status: 200 });
    }
  });

  it('lets a route marked @SkipCsrf() through without a token, the guard on it notwithstanding', async () => {
    const visitor = new Visitor(app.url);
    await visitor.get('/csrf');
    const res = await visitor.post('/skipped');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true });
  });
});
