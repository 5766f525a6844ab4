import Redis from 'ioredis';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { expectLibraryAnswer } from './support/expectations';
import { startSessionApp, type RunningApp } from './support/session-app';
import { Visitor } from './support/http-client';
import { sessionRedisKey } from '../support/key-scheme';

const IDLE_MS = 60_000;
const TOUCH_AFTER_MS = 6_000; // touchAfter's default: a tenth of the idle timeout
const ABSOLUTE_MS = 10 * 60_000;

/**
 * `touchAfter`: a read writes nothing until the idle timeout is due to slide, then slides it with
 * one small script (expiry, expiry field and last-seen time together), never past the absolute
 * deadline, once however many requests find it due, and a slide that fails is a 503.
 */
describe('sliding the idle timeout only when due (touchAfter)', () => {
  let redis: RedisServerHandle;
  let admin: Redis;
  let app: RunningApp;
  const prefix = uniquePrefix('slide');

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    app = await startSessionApp({ redis: redis.url, prefix, idleTimeout: IDLE_MS, absoluteTimeout: ABSOLUTE_MS });
  });

  afterAll(async () => {
    await admin?.config('SET', 'min-replicas-to-write', '0').catch(() => undefined);
    admin?.disconnect();
    await app?.close();
    await redis?.stop();
  });

  async function loggedIn(id: string): Promise<{ visitor: Visitor; key: string }> {
    const visitor = new Visitor(app.url);
    expect((await visitor.post('/login', { id })).status).toBe(200);
    return { visitor, key: sessionRedisKey(prefix, sidOf(visitor)) };
  }

  /** Moves the session's expiry (and its expiry field, as the scripts keep them) to `at`. */
  async function setExpiry(key: string, at: number): Promise<void> {
    await admin.multi().hset(key, ':e', at).pexpireat(key, at).exec();
  }

  const expiryOf = async (key: string) => Number(await admin.call('PEXPIRETIME', key));

  it('leaves a session alone until its expiry would gain touchAfter, then slides it to the full window and stamps last-seen', async () => {
    const { visitor, key } = await loggedIn('u-slide');
    await admin.hset(key, ':s', 1_000); // an old last-seen time, to see it stamped
    const written = await expiryOf(key);
    expect((await visitor.get('/me')).status).toBe(200);
    expect(await expiryOf(key)).toBe(written); // not due: nothing written
    await expect(admin.hget(key, ':s')).resolves.toBe('1000');

    await setExpiry(key, written - TOUCH_AFTER_MS - 1_000);
    const started = Date.now();
    expect((await visitor.get('/me')).status).toBe(200); // answers once the slide is done
    const slid = await expiryOf(key);
    expect(slid).toBeGreaterThanOrEqual(started + IDLE_MS);
    expect(slid).toBeLessThanOrEqual(Date.now() + IDLE_MS);
    await expect(admin.hget(key, ':e')).resolves.toBe(String(slid));
    expect(Number(await admin.hget(key, ':s'))).toBeGreaterThanOrEqual(started);
  });

  it("moves the expiry at once, shorter or longer, when a request changes the cookie's maxAge, though no slide is due", async () => {
    const { visitor, key } = await loggedIn('cookie-max-age');
    const before = await expiryOf(key);
    const started = Date.now();
    expect((await visitor.post('/cookie-max-age', { ms: 20_000 })).status).toBe(200);
    const shorter = await expiryOf(key);
    expect(shorter).toBeLessThan(before);
    expect(shorter).toBeGreaterThanOrEqual(started + 20_000);
    expect(Number(await admin.hget(key, ':e'))).toBe(shorter);
    expect((await visitor.post('/cookie-max-age', { ms: 40_000 })).status).toBe(200);
    expect(await expiryOf(key)).toBeGreaterThanOrEqual(shorter + 20_000);
  });

  it('never slides past the absolute deadline', async () => {
    const { visitor, key } = await loggedIn('u-deadline');
    const deadline = Date.now() + 30_000;
    await admin.hset(key, ':c', deadline - ABSOLUTE_MS);
    await setExpiry(key, deadline - 20_000); // a slide would gain 20 s, up to the deadline
    expect((await visitor.get('/me')).status).toBe(200);
    expect(await expiryOf(key)).toBe(deadline);
    await expect(admin.hget(key, ':e')).resolves.toBe(String(deadline));
  });

  it('takes a session past its absolute deadline for absent, and deletes it', async () => {
    const { visitor, key } = await loggedIn('u-past');
    await admin.hset(key, ':c', Date.now() - ABSOLUTE_MS - 1);
    expect((await visitor.get('/me')).status).toBe(401);
    // Deleted without holding up the request: wait for it.
    for (let attempt = 0; attempt < 100 && (await admin.exists(key)) === 1; attempt++) await new Promise((resolve) => setTimeout(resolve, 20));
    await expect(admin.exists(key)).resolves.toBe(0);
  });

  it('slides a session once however many parallel requests find the slide due', async () => {
    const { visitor, key } = await loggedIn('u-parallel');
    await setExpiry(key, (await expiryOf(key)) - TOUCH_AFTER_MS - 1_000);
    await visitor.get('/me'); // loads the slide's script: no NOSCRIPT fallback below
    await setExpiry(key, (await expiryOf(key)) - TOUCH_AFTER_MS - 1_000);
    const before = await writeCalls();
    const answers = await Promise.all(Array.from({ length: 10 }, () => visitor.get('/me')));
    expect(answers.map((res) => res.status)).toEqual(Array(10).fill(200));
    expect((await writeCalls()) - before).toBe(1); // one PEXPIREAT: the others found the expiry moved, or not due
  });

  it('answers reads while Redis refuses writes, and 503 to the one whose slide is due, never a silent success', async () => {
    const fresh = await loggedIn('u-refused-fresh');
    const due = await loggedIn('u-refused-due');
    await setExpiry(due.key, (await expiryOf(due.key)) - TOUCH_AFTER_MS - 1_000);
    await admin.config('SET', 'min-replicas-to-write', '1');
    try {
      expect((await fresh.visitor.get('/me')).status).toBe(200); // no slide due: a read, which Redis still serves
      const refused = await due.visitor.get('/me');
      expect(refused.status).toBe(503);
      expectLibraryAnswer(refused, 'NOREPLICAS');
    } finally {
      await admin.config('SET', 'min-replicas-to-write', '0');
    }
    expect((await due.visitor.get('/me')).status).toBe(200); // Redis takes writes again: the slide goes through
    expect(await expiryOf(due.key)).toBeGreaterThan(Date.now() + IDLE_MS - TOUCH_AFTER_MS);
  });

  /** PEXPIREAT calls Redis executed so far, scripts' included. */
  async function writeCalls(): Promise<number> {
    const info = await admin.info('commandstats');
    return Number(/^cmdstat_pexpireat:calls=(\d+)/m.exec(info)?.[1] ?? 0);
  }
});

function sidOf(visitor: Visitor): string {
  return decodeURIComponent(visitor.cookie!.split('=')[1]).slice(2).split('.')[0];
}

/** `cookie.persistent`: the cookie ends with the session's idle timeout, and each response sends it again. */
describe('a persistent cookie (cookie.persistent)', () => {
  let redis: RedisServerHandle;
  let app: RunningApp;

  beforeAll(async () => {
    redis = await startRedis();
    app = await startSessionApp({ redis: redis.url, prefix: uniquePrefix('persistent'), idleTimeout: IDLE_MS, cookie: { persistent: true } });
  });

  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  /** When the Set-Cookie header says the cookie ends (its `Expires`, as express-session writes it), in ms since the epoch. */
  function cookieEnds(setCookie: string | null): number {
    const expires = /;\s*Expires=([^;]+)/i.exec(setCookie ?? '');
    if (!expires) throw new Error(`no Expires in ${setCookie}`);
    return Date.parse(expires[1]);
  }

  it('ends no later than the absolute timeout, when Redis ends the session whatever the slide', async () => {
    const admin = new Redis(redis.url);
    const prefix = uniquePrefix('persistent-deadline');
    const short = await startSessionApp({ redis: redis.url, prefix, idleTimeout: 4_000, absoluteTimeout: 5_000, cookie: { persistent: true } });
    try {
      const visitor = new Visitor(short.url);
      expect((await visitor.post('/inc')).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 1_500)); // the idle timeout now reaches past the absolute one
      const later = await visitor.post('/inc');
      expect(later.status).toBe(200);
      const keyEnds = Number(await admin.call('PEXPIRETIME', sessionRedisKey(prefix, sidOf(visitor))));
      expect(cookieEnds(later.setCookie)).toBeLessThanOrEqual(keyEnds);
      expect(cookieEnds(later.setCookie)).toBeGreaterThan(keyEnds - 1_000); // Expires has whole seconds
    } finally {
      admin.disconnect();
      await short.close();
    }
  });

  it('carries an expiry idleTimeout ahead, set again by a later response', async () => {
    const visitor = new Visitor(app.url);
    const first = await visitor.post('/inc');
    expect(Math.abs(cookieEnds(first.setCookie) - (Date.now() + IDLE_MS))).toBeLessThan(5_000); // Expires has whole seconds
    const later = await visitor.get('/peek');
    expect(later.setCookie).toContain(visitor.cookie!);
    expect(Math.abs(cookieEnds(later.setCookie) - (Date.now() + IDLE_MS))).toBeLessThan(5_000);
  });
});
