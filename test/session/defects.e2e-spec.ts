import Redis from 'ioredis';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { startChildSessionApp, type ChildSessionApp } from './support/child-session-app';
import type { SessionStep } from './support/child-session-app.main';
import { expectLibraryAnswer, keysWithoutTtl } from './support/expectations';
import { Visitor } from './support/http-client';
import type { ValueSpec } from './support/values';

// Issue 12, items 1, 2, 3 and the key-name half of 6: what app code puts in a session must never
// crash a replica, leave a key without a TTL, half-write a session or show Redis's raw error. The app
// runs in a child process, so a crash ends that process (and this test's assertion), not jest.

const json = (v: unknown): ValueSpec => ({ $: 'json', v });
const set = (key: string, value: ValueSpec): SessionStep => ({ op: 'set', key, value });

describe('defects of issue 12 (app in a child process, real Redis)', () => {
  let redis: RedisServerHandle;
  let admin: Redis;
  let app: ChildSessionApp;
  const prefix = uniquePrefix('defects');
  let bystander: Visitor;
  let bystanderData: unknown;

  /** A crash in an earlier test must not fail the later ones: each starts with a live app. */
  async function liveApp(): Promise<ChildSessionApp> {
    if (!app?.alive()) app = await startChildSessionApp({ redis: redis.url, prefix });
    return app;
  }

  function apply(visitor: Visitor, steps: SessionStep[]) {
    return visitor.post('/apply', { steps });
  }

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    await liveApp();
    // Another user's session, made first: nothing below may touch it.
    bystander = new Visitor(() => app.url);
    expect((await apply(bystander, [set('views', json(7)), set('items', json(['a', 'b']))])).status).toBe(200);
    bystanderData = (await bystander.get('/whole')).body;
  }, 90_000);

  beforeEach(async () => {
    await liveApp();
  }, 90_000);

  afterEach(async () => {
    // The process lived through the request, every key still expires, and the bystander is intact.
    expect({ alive: app.alive(), exit: app.exitReason(), log: app.alive() ? '' : app.output().slice(-2_000) }).toEqual({
      alive: true,
      exit: undefined,
      log: '',
    });
    const forever = await keysWithoutTtl(admin, prefix);
    // Removed once seen, so the next test reports only its own.
    await Promise.all(forever.map((key) => admin.del(key)));
    expect(forever).toEqual([]);
    expect((await bystander.get('/whole')).body).toEqual(bystanderData);
  });

  afterAll(async () => {
    admin?.disconnect();
    await app?.stop();
    await redis?.stop();
  });

  /** Sends the request; a crash shows up as a failed fetch, which the test reports with the app's log. */
  async function attempt(visitor: Visitor, steps: SessionStep[]) {
    try {
      return await apply(visitor, steps);
    } catch (error) {
      await app.exited(2_000);
      throw new Error(`request failed (${(error as Error).message}); app ${app.exitReason() ?? 'still running'}; log:\n${app.output().slice(-1_500)}`, {
        cause: error,
      });
    }
  }

  describe('1. nothing app code stores crashes the process', () => {
    it.each<[string, SessionStep[], string]>([
      ['a key "__proto__" set directly', [set('__proto__', json({ a: 1 }))], '__proto__'],
      ['a key "__proto__" set through SessionService.update', [{ op: 'update', key: '__proto__', value: json({ a: 1 }) }], '__proto__'],
      ['req.session.cookie replaced by a string', [set('views', json(1)), { op: 'replace-cookie', value: json('not a cookie') }], 'cookie'],
      ['req.session.cookie replaced by null', [set('views', json(1)), { op: 'replace-cookie', value: json(null) }], 'cookie'],
    ])("%s: the process lives and the answer is the library's clear error", async (_case, steps, mentions) => {
      const res = await attempt(new Visitor(app.url), steps);
      expectLibraryAnswer(res, mentions);
      expect(res.status).toBeGreaterThanOrEqual(400);
    });

    it('a cookie.expires far beyond what a cookie can carry: the process lives, a clear answer', async () => {
      const res = await attempt(new Visitor(app.url), [set('views', json(1)), { op: 'cookie', field: 'expires', value: { $: 'date', v: 8.64e15 } }]);
      expectLibraryAnswer(res, 'expires');
    });
  });

  describe("2. an expiry that is not a finite time never leaves a key without TTL, nor Redis's text", () => {
    it.each<[string, SessionStep]>([
      ['cookie.maxAge = NaN', { op: 'cookie', field: 'maxAge', value: { $: 'nan' } }],
      ['cookie.maxAge = Infinity', { op: 'cookie', field: 'maxAge', value: { $: 'infinity' } }],
      ['cookie.expires = an invalid date', { op: 'cookie', field: 'expires', value: { $: 'date', v: 'invalid' } }],
    ])("%s on a new session: the library's message and no key without a TTL", async (_case, step) => {
      const res = await attempt(new Visitor(app.url), [set('views', json(1)), step]);
      expectLibraryAnswer(res, 'cookie');
      expect(res.status).toBeGreaterThanOrEqual(400);
    });

    it("cookie.maxAge = Infinity right after regenerate: the library's message and no key without a TTL", async () => {
      const visitor = new Visitor(app.url);
      expect((await apply(visitor, [set('views', json(1))])).status).toBe(200);
      const res = await attempt(visitor, [{ op: 'regenerate' }, { op: 'cookie', field: 'maxAge', value: { $: 'infinity' } }]);
      expectLibraryAnswer(res, 'cookie');
    });

    it('cookie.maxAge = NaN on a stored session: the failed save writes nothing (no half write)', async () => {
      const visitor = new Visitor(app.url);
      expect((await apply(visitor, [set('views', json(1))])).status).toBe(200);
      const res = await attempt(visitor, [set('views', json(2)), set('extra', json('x')), { op: 'cookie', field: 'maxAge', value: { $: 'nan' } }]);
      expectLibraryAnswer(res, 'cookie');
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect((await visitor.get('/whole')).body).toEqual({ views: 1 });
    });
  });

  describe("3. SessionService.regenerate keeps the session in its user's index", () => {
    it('a regenerated session is listed, revocable, and dies with "log out everywhere" from another device', async () => {
      const phone = new Visitor(app.url);
      const laptop = new Visitor(app.url);
      expect((await phone.post('/login', { id: 'regenerating-user' })).status).toBe(200);
      expect((await laptop.post('/login', { id: 'regenerating-user' })).status).toBe(200);
      const before = phone.cookie;
      expect((await attempt(phone, [{ op: 'regenerate' }])).status).toBe(200);
      expect(phone.cookie).not.toEqual(before);

      const listed = await phone.get('/sessions');
      expect(listed.status).toBe(200);
      expect(listed.body).toHaveLength(2);
      expect(listed.body.filter((row: { current: boolean }) => row.current)).toHaveLength(1);

      expect((await laptop.post('/logout-all', {})).body).toEqual({ deleted: 2 });
      expect((await phone.get('/me')).status).toBe(401);
    });
  });

  describe('6. smaller', () => {
    it('updating the key "cookie" is refused with a message about that key, not about a ":" it does not have', async () => {
      const visitor = new Visitor(app.url);
      expect((await apply(visitor, [set('views', json(1))])).status).toBe(200);
      const res = await attempt(visitor, [{ op: 'update', key: 'cookie', value: json(1) }]);
      expectLibraryAnswer(res, '"cookie"');
      expect(res.status).toBe(500);
      expect(res.body.message).not.toMatch(/starts with ":"/);
    });
  });
});
