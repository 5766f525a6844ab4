import Redis from 'ioredis';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { startSessionApp, TEST_SECRET, type RunningApp } from './support/session-app';
import { Visitor } from './support/http-client';
import { sessionRedisKey, userIndexRedisKey } from '../support/key-scheme';

/** Bad input gets a clear answer and loses nothing: cookies, signatures, stored values, sizes. */
describe('bad input', () => {
  let redis: RedisServerHandle;
  let app: RunningApp;
  let admin: Redis;
  const prefix = uniquePrefix('bad');
  const warnings: string[] = [];
  const errors: string[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    app = await startSessionApp({ redis: redis.url, prefix, maxSessionBytes: 2_000 });
    app.app.useLogger({ log() {}, error: (message: string) => errors.push(String(message)), warn: (message: string) => warnings.push(String(message)) });
    admin = new Redis(redis.url);
  });

  afterAll(async () => {
    admin?.disconnect();
    await app?.close();
    await redis?.stop();
  });

  function sidOf(cookie: string): string {
    return decodeURIComponent(cookie.split('=')[1]).slice(2).split('.')[0];
  }

  it.each([
    ['garbage', 'sid=%%%not-a-cookie'],
    ['an unsigned ID', 'sid=abc123'],
    ['an empty value', 'sid='],
    ['a huge value', `sid=s%3A${'a'.repeat(8_000)}.sig`],
  ])('treats a malformed cookie (%s) as no session, never a 500', async (_case, cookie) => {
    const res = await new Visitor(app.url).request('GET', '/me', { headers: { cookie } });
    expect(res.status).toBe(401);
    const whole = await new Visitor(app.url).request('GET', '/whole', { headers: { cookie } });
    expect(whole.status).toBe(200);
  });

  it('refuses a forged signature, says so in the log, and leaves the real session alone', async () => {
    const owner = new Visitor(app.url);
    await owner.post('/set/views', { value: 42 });
    const forged = `sid=${encodeURIComponent(`s:${sidOf(owner.cookie!)}.forgedsignatureAAAAAAAAAAAAAAAAAAAAAAAAAAA`)}`;
    warnings.length = 0;
    const res = await new Visitor(app.url).request('GET', '/whole', { headers: { cookie: forged } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    expect(warnings.some((w) => /invalid signature/.test(w))).toBe(true);
    expect((await owner.get('/peek')).body).toEqual({ views: 42 });
  });

  it('accepts cookies signed with an older secret of the rotation list', async () => {
    const oldApp = await startSessionApp({ redis: redis.url, prefix, secret: 'an-old-secret-that-is-32-characters-long' });
    const rotated = await startSessionApp({ redis: redis.url, prefix, secret: [TEST_SECRET, 'an-old-secret-that-is-32-characters-long'] });
    try {
      const visitor = new Visitor(oldApp.url);
      await visitor.post('/set/views', { value: 9 });
      expect((await new Visitor(rotated.url).request('GET', '/peek', { headers: { cookie: visitor.cookie! } })).body).toEqual({ views: 9 });
    } finally {
      await oldApp.close();
      await rotated.close();
    }
  });

  /** A visitor whose session holds `views: 1` and a cart that Redis now holds as text that is not JSON; the warnings cleared. */
  async function withCartNotJson(): Promise<{ visitor: Visitor; key: string }> {
    const visitor = new Visitor(app.url);
    await visitor.post('/set/views', { value: 1 });
    await visitor.post('/set/cart', { value: ['a'] });
    const key = sessionRedisKey(prefix, sidOf(visitor.cookie!));
    await admin.hset(key, 'cart', '{not json');
    warnings.length = 0;
    return { visitor, key };
  }

  it('reads a value that is not valid JSON as an absent key, logs it, keeps the rest, and writes nothing over it', async () => {
    const { visitor, key } = await withCartNotJson();
    const res = await visitor.get('/whole');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ views: 1 });
    expect(warnings.filter((w) => /session key "cart".*not valid JSON/.test(w))).toHaveLength(1);
    await expect(admin.hget(key, 'cart')).resolves.toBe('{not json');
    // Assigning the key replaces the corrupt value, as for any key.
    await visitor.post('/set/cart', { value: ['b'] });
    expect((await visitor.get('/whole')).body).toEqual({ views: 1, cart: ['b'] });
  });

  it('hands SessionService.update a value that is not valid JSON as absent, logs it, and replaces it', async () => {
    const { visitor } = await withCartNotJson();
    const res = await visitor.post('/update-list/cart', { item: 'b' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ given: null, list: ['b'] });
    expect(warnings.filter((w) => /session key "cart".*not valid JSON/.test(w))).toHaveLength(1);
    expect((await visitor.get('/whole')).body).toEqual({ views: 1, cart: ['b'] });
  });

  it.each([
    ['assigned', (visitor: Visitor) => visitor.post('/set/cart', { value: ['b'] })],
    ['updated', (visitor: Visitor) => visitor.post('/update-list/cart', { item: 'b' })],
  ])('replaces a value whose piece count is corrupt when it is %s, without naming millions of pieces', async (_case, change) => {
    const visitor = new Visitor(app.url);
    await visitor.post('/set/views', { value: 1 });
    const key = sessionRedisKey(prefix, sidOf(visitor.cookie!));
    // A head (\x1f, the piece count, ':') that claims three million pieces: deleting them all would hold Redis for seconds.
    await admin.hset(key, 'cart', '\x1f3000000:["a"]', ':1:cart', 'x');
    expect((await visitor.get('/whole')).body).toEqual({ views: 1 });
    const calls = await admin.call('INFO', 'commandstats');
    const res = await change(visitor);
    expect(res.status).toBe(200);
    expect((await visitor.get('/whole')).body).toEqual({ views: 1, cart: ['b'] });
    await expect(admin.hexists(key, ':1:cart')).resolves.toBe(0);
    // The script's deletions: the pieces the hash can hold, in one HDEL, not three million names in 3,000 HDELs of 1,000.
    const hdels = (stats: unknown) => Number(/cmdstat_hdel:calls=(\d+)/.exec(String(stats))?.[1] ?? 0);
    expect(hdels(await admin.call('INFO', 'commandstats')) - hdels(calls)).toBe(1);
  });

  it.each([
    ['a function', { $: 'function' }, 'JSON has no function'],
    ['a symbol', { $: 'symbol' }, 'JSON has no symbol'],
    ['a BigInt', { $: 'bigint', v: '12' }, 'BigInt'],
    ['a cycle', { $: 'cycle' }, 'circular'],
  ])('refuses %s set on a key with a 500 naming the key, and keeps what Redis held for it', async (_case, value, reason) => {
    const visitor = new Visitor(app.url);
    await visitor.post('/set/cart', { value: ['a'] });
    const res = await visitor.post('/set-built/cart', { value });
    expect(res.status).toBe(500);
    expect(res.body.message).toMatch(new RegExp(`^Session key "cart" cannot be stored as JSON: .*${reason}`, 'i'));
    expect((await visitor.get('/whole')).body).toEqual({ cart: ['a'] });
  });

  it.each([
    ['a missing creation time', (key: string) => admin.hdel(key, ':c')],
    [
      'a value of the wrong type',
      async (key: string) => {
        await admin.del(key);
        await admin.set(key, 'a string, not a hash');
      },
    ],
  ])('treats a corrupt value in Redis (%s) as no session and logs it, never a 500', async (_case, corrupt) => {
    const visitor = new Visitor(app.url);
    await visitor.post('/set/views', { value: 1 });
    const key = sessionRedisKey(prefix, sidOf(visitor.cookie!));
    await corrupt(key);
    warnings.length = 0;
    const res = await visitor.get('/whole');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    expect(warnings.some((w) => /corrupt session/i.test(w))).toBe(true);
  });

  it("answers a login whose user's index key holds another type of value with an error that says so, not Redis's reply", async () => {
    await admin.set(userIndexRedisKey(prefix, 'u-wrong-type'), 'not a sorted set', 'PX', 60_000);
    const visitor = new Visitor(app.url);
    await visitor.post('/set/views', { value: 1 });
    errors.length = 0;
    const res = await visitor.post('/login', { id: 'u-wrong-type' });
    expect(res.status).toBe(500);
    expect(res.body.message).toBe(
      "Session store: a user's index of sessions in Redis holds another type of value than the sorted set the library keeps there (WRONGTYPE): delete that key",
    );
    await expect(admin.get(userIndexRedisKey(prefix, 'u-wrong-type'))).resolves.toBe('not a sorted set');
    expect((await visitor.get('/me')).status).toBe(401); // not logged in
  });

  it('answers 413 for an oversized session and keeps what was stored', async () => {
    const visitor = new Visitor(app.url);
    await visitor.post('/set/views', { value: 3 });
    const res = await visitor.post('/items', { item: 'x'.repeat(5_000) });
    expect(res.status).toBe(413);
    expect(res.body.message).toMatch(/above the limit of 2000 bytes \(option "maxSessionBytes"\)/);
    expect((await visitor.get('/whole')).body).toEqual({ views: 3 });
  });

  it('answers a clear error, never a silent success, when the handler stored a key the library reserves', async () => {
    const visitor = new Visitor(app.url);
    await visitor.post('/set/views', { value: 5 });
    errors.length = 0;
    // The handler meant to answer 200; the save at the end refuses the key and the answer says so.
    const res = await visitor.post('/set/:c', { value: 1 });
    expect(res.status).toBe(500);
    expect(res.body).toEqual({
      statusCode: 500,
      message: 'Session key ":c" starts with ":", which is reserved for the library\'s own fields',
      error: 'Internal Server Error',
    });
    expect(errors.some((e) => e.includes('Session key ":c" starts with ":"'))).toBe(true);
    expect((await visitor.get('/whole')).body).toEqual({ views: 5 });
  });

  it('names cookie.path when a handler outside it asks for a session, where the cookie would never come back', async () => {
    const scoped = await startSessionApp({ redis: redis.url, prefix: uniquePrefix('bad-path'), cookie: { path: '/set' } });
    const scopedErrors: string[] = [];
    scoped.app.useLogger({ log() {}, warn() {}, error: (message: string) => scopedErrors.push(String(message)) });
    try {
      const visitor = new Visitor(scoped.url);
      expect((await visitor.post('/set/views', { value: 2 })).status).toBe(200);
      expect(visitor.cookie).toMatch(/^sid=/);
      const outside = await visitor.post('/items', { item: 'kettle' }); // SessionService.update
      expect(outside.status).toBe(500);
      expect(outside.headers.get('set-cookie')).toBeNull();
      const byDecorator = await visitor.get('/whole'); // @Session()
      expect(byDecorator.status).toBe(500);
      expect(scopedErrors.filter((e) => e.includes('outside cookie.path "/set"') && e.includes('"idFrom"'))).toHaveLength(2);
      expect(scopedErrors.some((e) => /exclude|forRoutes/.test(e))).toBe(false);
      expect(await admin.keys(`${scoped.prefix}*`)).toHaveLength(1); // the session made under /set, nothing more
    } finally {
      await scoped.close();
    }
  });
});
