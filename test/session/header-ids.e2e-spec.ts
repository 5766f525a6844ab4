import Redis from 'ioredis';
import { signCookie } from '@app/session/cookie/cookie-signature';
import { FIELD } from '@app/session/redis/session-fields';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { startReplicas, startSessionApp, TEST_SECRET, type RunningApp } from './support/session-app';
import { Visitor } from './support/http-client';
import { TokenClient } from './support/token-client';
import { sessionRedisKey } from '../support/key-scheme';

const OLD_SECRET = 'an-older-secret-still-in-the-rotation-list';
/** The signed value `s:<id>.<mac>`: what the header carries. */
const SIGNED = /^s:[\w-]{32}\.[\w+/]{43}$/;

/** The session ID inside a signed token. */
function idOf(token: string): string {
  return decodeURIComponent(token).slice(2).split('.')[0];
}

/** Session IDs from a header (`idFrom: { header }`): clients that keep no cookies, CSRF, and which carrier wins. */
describe('session IDs in a header', () => {
  let redis: RedisServerHandle;
  let admin: Redis;
  /** idFrom: { header } (the header's default name, X-Session-Token), two replicas, the secret rotated (the old one still verifies). */
  let headerReplicas: RunningApp[];
  /** idFrom: { header, cookie: true } and the default 'cookie', sharing one prefix, so a session of one is a session of the other. */
  let both: RunningApp;
  let cookieOnly: RunningApp;
  const headerPrefix = uniquePrefix('hdr');
  const sharedPrefix = uniquePrefix('hdr-both');
  const warnings: string[] = [];
  let turn = 0;
  /** Round robin over the header replicas: each request goes to the other one. */
  const nextReplica = () => headerReplicas[turn++ % headerReplicas.length].url;

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    headerReplicas = await startReplicas(2, { redis: redis.url, prefix: headerPrefix, idFrom: {}, secret: [TEST_SECRET, OLD_SECRET] });
    both = await startSessionApp({ redis: redis.url, prefix: sharedPrefix, idFrom: { header: 'X-Session-Token', cookie: true } });
    cookieOnly = await startSessionApp({ redis: redis.url, prefix: sharedPrefix });
    // Nest's logger is one per process: set once every app exists, it hears all of them.
    headerReplicas[0].app.useLogger({ log() {}, error() {}, warn: (message: string) => warnings.push(String(message)) });
  });

  afterAll(async () => {
    admin?.disconnect();
    await Promise.all([...(headerReplicas ?? []), both, cookieOnly].map((app) => app?.close()));
    await redis?.stop();
  });

  describe('idFrom: { header }', () => {
    it('creates, finds, rotates and ends a session by the header alone, across replicas, never setting a cookie', async () => {
      const client = new TokenClient(nextReplica);
      const first = await client.post('/set/views', { value: 1 });
      expect(first.status).toBe(200);
      expect(first.token).toMatch(SIGNED);
      const anonymousToken = first.token!;

      const read = await client.get('/peek');
      expect(read.body).toEqual({ views: 1 });
      expect(read.token).toBeUndefined(); // nothing changed: nothing to announce

      const items = await client.post('/items', { item: 'teapot' });
      expect(items.body).toEqual({ count: 1 });

      const login = await client.post('/login', { id: 'h1' });
      expect(login.status).toBe(200);
      expect(login.token).toMatch(SIGNED);
      expect(login.token).not.toBe(anonymousToken);
      const me = await client.get('/me');
      expect(me.body).toEqual({ user: { id: 'h1', name: 'h1' } });
      expect((await client.get('/whole')).body).toMatchObject({ views: 1, items: ['teapot'] }); // the data came along

      const regenerated = await client.post('/regenerate');
      expect(regenerated.token).toMatch(SIGNED);
      expect(regenerated.token).not.toBe(login.token);

      const logout = await client.post('/logout');
      expect(logout.status).toBe(204);
      expect(logout.token).toBe(''); // present and empty: the client drops its token
      expect(client.token).toBeUndefined();

      const responses = [first, read, items, login, me, regenerated, logout];
      expect(responses.map((res) => res.setCookie)).toEqual(responses.map(() => null));
      // Every token this client held is dead now, on both replicas.
      for (const token of [anonymousToken, login.token!, regenerated.token!]) {
        for (const replica of headerReplicas) {
          expect((await new TokenClient(replica.url).get('/me', { 'X-Session-Token': token })).status).toBe(401);
        }
        // Gone, or a tombstone: a regenerate leaves the logged-in session's old key one for a while.
        expect(await admin.hexists(sessionRedisKey(headerPrefix, idOf(token)), FIELD.createdAt)).toBe(0);
      }
    });

    it.each([
      ['garbage', 'not-a-token'],
      ['an empty value', ''],
      ['an unsigned ID', 's:abc123'],
      ['bad percent-encoding', 's%3A%E0%A4%A.x'],
      ['a huge value', `s:${'a'.repeat(8_000)}.sig`],
    ])('treats a malformed header (%s) as no session, never a 500', async (_case, value) => {
      const owner = new TokenClient(nextReplica);
      await owner.post('/login', { id: 'h0' });
      expect((await owner.get('/me')).status).toBe(200); // the same route knows a well-formed token
      const client = new TokenClient(nextReplica);
      expect((await client.get('/me', { 'X-Session-Token': value })).status).toBe(401);
      const whole = await client.get('/whole', { 'X-Session-Token': value });
      expect(whole.status).toBe(200);
      expect(whole.body).toEqual({});
    });

    it('refuses a forged signature, and one made with an unknown secret, says so in the log, and leaves the real session alone', async () => {
      const owner = new TokenClient(nextReplica);
      await owner.post('/set/views', { value: 42 });
      const id = idOf(owner.token!);
      warnings.length = 0;
      for (const forged of [`s:${id}.forgedsignatureAAAAAAAAAAAAAAAAAAAAAAAAAAA`, signCookie(id, 'a-secret-nobody-configured-32-chars-long')]) {
        const res = await new TokenClient(nextReplica).post('/inc', undefined, { 'X-Session-Token': forged });
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ views: 1 }); // a new session, not the owner's
        expect(idOf(res.token!)).not.toBe(id);
      }
      expect(warnings.some((w) => /Session header "X-Session-Token" has an invalid signature/.test(w))).toBe(true);
      expect((await owner.get('/peek')).body).toEqual({ views: 42 });
    });

    it('accepts a token signed with an older secret of the rotation list, as the cookie would be', async () => {
      const owner = new TokenClient(nextReplica);
      await owner.post('/set/views', { value: 7 });
      const older = new TokenClient(nextReplica);
      older.token = signCookie(idOf(owner.token!), OLD_SECRET);
      expect((await older.get('/peek')).body).toEqual({ views: 7 });
    });

    it('needs no CSRF token for a request authenticated by the header alone; the same request with the session cookie too is checked', async () => {
      const client = new TokenClient(nextReplica);
      await client.post('/login', { id: 'h2' });
      const alone = await client.post('/protected');
      expect(alone.status).toBe(200);
      expect(alone.body).toEqual({ views: 1 });
      const withCookie = await client.post('/protected', undefined, { cookie: 'sid=anything' });
      expect(withCookie.status).toBe(403);
      expect((await client.get('/peek')).body).toEqual({ views: 1 }); // the refused handler never ran
    });

    it('reads and answers a header of the configured name', async () => {
      const app = await startSessionApp({ redis: redis.url, prefix: headerPrefix, idFrom: { header: 'X-Api-Session' } });
      try {
        const client = new TokenClient(app.url, 'X-Api-Session');
        const res = await client.post('/set/views', { value: 3 });
        expect(res.token).toMatch(SIGNED);
        expect(res.headers.get('x-session-token')).toBeNull();
        expect((await client.get('/peek')).body).toEqual({ views: 3 });
        expect((await new TokenClient(app.url).get('/peek', { 'X-Session-Token': client.token! })).body).toEqual({ views: null });
      } finally {
        await app.close();
      }
    });
  });

  describe('a cookie path beside a header', () => {
    it('serves a session by its header outside cookie.path, where no cookie goes; with both, the cookie there is ignored', async () => {
      const scoped = await startSessionApp({ redis: redis.url, prefix: uniquePrefix('hdr-path'), idFrom: {}, cookie: { path: '/set' } });
      const scopedBoth = await startSessionApp({ redis: redis.url, prefix: scoped.prefix, idFrom: { cookie: true }, cookie: { path: '/set' } });
      try {
        const client = new TokenClient(scoped.url);
        const created = await client.post('/set/views', { value: 3 });
        expect(created.token).toMatch(SIGNED);
        expect(created.headers.get('set-cookie')).toBeNull();
        expect((await client.get('/peek')).body).toEqual({ views: 3 }); // /peek is outside /set
        expect((await client.post('/items', { item: 'kettle' })).body).toEqual({ count: 1 });

        // The same session through a browser's cookie outside its path: a browser never sends it there,
        // so a cookie that came anyway is not taken; the header is.
        const browser = new Visitor(scopedBoth.url);
        browser.cookie = `sid=${encodeURIComponent(created.token!)}`;
        expect((await browser.get('/peek')).body).toEqual({ views: null });
        const byHeader = new TokenClient(scopedBoth.url);
        byHeader.token = created.token;
        expect((await byHeader.get('/peek')).body).toEqual({ views: 3 });
      } finally {
        await Promise.all([scoped.close(), scopedBoth.close()]);
      }
    });
  });

  describe('idFrom: { header, cookie: true }', () => {
    it('announces a new session both ways to a request that brought neither; each then works alone', async () => {
      const res = await new Visitor(both.url).post('/set/views', { value: 5 });
      const token = res.headers.get('x-session-token')!;
      expect(token).toMatch(SIGNED);
      expect(res.setCookie).toMatch(/^sid=s%3A/);
      expect(decodeURIComponent(res.setCookie!.split(';')[0].slice(4))).toBe(token);

      const byHeader = new TokenClient(both.url);
      byHeader.token = token;
      expect((await byHeader.get('/peek')).body).toEqual({ views: 5 });
      const browser = new Visitor(both.url);
      browser.cookie = res.setCookie!.split(';')[0];
      expect((await browser.get('/peek')).body).toEqual({ views: 5 });
    });

    it('lets the header decide when a request carries both, even a forged one; its response sets no cookie', async () => {
      const browser = new Visitor(both.url);
      await browser.post('/set/views', { value: 1 });
      const app = new TokenClient(both.url);
      await app.post('/set/views', { value: 2 });
      const cookie = browser.cookie!;

      expect((await app.get('/peek', { cookie })).body).toEqual({ views: 2 });
      const login = await app.post('/login', { id: 'b1' }, { cookie });
      expect(login.token).toMatch(SIGNED);
      expect(login.setCookie).toBeNull();
      // A header that fails is no session: the cookie does not stand in for it.
      const forged = await app.get('/peek', { cookie, 'X-Session-Token': 'forged' });
      expect(forged.body).toEqual({ views: null });
      expect((await browser.get('/peek')).body).toEqual({ views: 1 });
    });

    it('checks CSRF on every request that sends the session cookie, the header present or not; not on the header alone', async () => {
      const browser = new Visitor(both.url);
      const { csrfToken } = (await browser.get('/csrf')).body;
      const cookieToken = decodeURIComponent(browser.cookie!.slice(4));
      const refused = [
        await browser.post('/protected'),
        await browser.post('/protected', undefined, { 'X-Session-Token': cookieToken }),
        await browser.post('/protected', undefined, { 'X-Session-Token': '' }),
      ];
      expect(refused.map((res) => res.status)).toEqual([403, 403, 403]);
      expect((await browser.get('/peek')).body).toEqual({ views: null });
      expect((await browser.post('/protected', undefined, { 'x-csrf-token': csrfToken })).status).toBe(200);

      const headerOnly = new TokenClient(both.url);
      headerOnly.token = cookieToken;
      expect((await headerOnly.post('/protected')).status).toBe(200);
      expect((await browser.get('/peek')).body).toEqual({ views: 2 });
    });

    it('logs a header client out with an empty header and no cookie; a browser still gets its cookie cleared', async () => {
      const app = new TokenClient(both.url);
      await app.post('/login', { id: 'b2' });
      const token = app.token!;
      const logout = await app.post('/logout');
      expect(logout.token).toBe('');
      expect(logout.setCookie).toBeNull();
      expect((await new TokenClient(both.url).get('/me', { 'X-Session-Token': token })).status).toBe(401);

      const browser = new Visitor(both.url);
      await browser.post('/login', { id: 'b3' });
      const browserLogout = await browser.post('/logout');
      expect(browserLogout.setCookie).toMatch(/^sid=;/);
      expect(browserLogout.headers.get('x-session-token')).toBeNull();
    });
  });

  describe("idFrom: 'cookie' (the default)", () => {
    it('ignores the header: a live session named in it is no session, and no response carries it', async () => {
      const res = await new TokenClient(both.url).post('/set/views', { value: 9 });
      const token = res.token!;
      expect(token).toMatch(SIGNED);

      const ignored = await new TokenClient(cookieOnly.url).get('/peek', { 'X-Session-Token': token });
      expect(ignored.body).toEqual({ views: null });
      const created = await new TokenClient(cookieOnly.url).post('/inc', undefined, { 'X-Session-Token': token });
      expect(created.body).toEqual({ views: 1 });
      expect(created.token).toBeUndefined();
      expect(created.setCookie).toMatch(/^sid=s%3A/);
      // The same value as a cookie is that session: the header alone was ignored.
      expect((await new Visitor(cookieOnly.url).get('/peek', { cookie: `sid=${encodeURIComponent(token)}` })).body).toEqual({ views: 9 });
    });
  });
});
