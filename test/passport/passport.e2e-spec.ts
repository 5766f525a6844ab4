import { Logger, type INestApplication } from '@nestjs/common';
import Redis from 'ioredis';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SessionEvents, type SessionEvent, type SessionModuleOptions } from '@app/session';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { Visitor } from '../session/support/http-client';
import { passportAppOptions } from './app/app.module';
import { createApp } from './app/main';
import { createFastifyApp } from './app/main-fastify';
import { testHttpPlatform } from '../support/http-platform';

const SECRET = 'a-passport-test-secret-of-32-chars!!';

/**
 * Passport as Nest's documentation sets it up (passport.initialize() and passport.session() in main.ts
 * after NestFactory.create, AuthGuard('local') with a serializer), over two replicas and one Redis.
 */
describe('passport over two replicas', () => {
  let redis: RedisServerHandle;
  let admin: Redis;
  const running: INestApplication[] = [];
  const previous = { secret: process.env.SESSION_SECRET, url: process.env.REDIS_URL };

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    process.env.SESSION_SECRET = SECRET;
    process.env.REDIS_URL = redis.url;
    Logger.overrideLogger(false);
  });

  afterAll(async () => {
    await Promise.all(running.map((app) => app.close()));
    admin?.disconnect();
    await redis?.stop();
    restoreEnv('SESSION_SECRET', previous.secret);
    restoreEnv('REDIS_URL', previous.url);
  });

  /** Two replicas of the app, and the key prefix they share. */
  async function replicas(options: Partial<SessionModuleOptions> = {}): Promise<{ a: string; b: string; prefix: string }> {
    const prefix = uniquePrefix('passport');
    passportAppOptions.current = { prefix, ...options };
    const urls: string[] = [];
    for (let i = 0; i < 2; i++) {
      const app = testHttpPlatform() === 'fastify' ? await createFastifyApp() : await createApp();
      running.push(app);
      await app.listen(0, '127.0.0.1');
      urls.push((await app.getUrl()).replace('[::1]', '127.0.0.1'));
    }
    return { a: urls[0], b: urls[1], prefix };
  }

  async function logIn(url: string, username = 'ada', password = 'lovelace', userAgent = 'test-agent'): Promise<Visitor> {
    const visitor = new Visitor(url);
    const res = await visitor.post('/login', { username, password }, { 'user-agent': userAgent });
    expect(res.status).toBe(200);
    return visitor;
  }

  /** The same browser (its cookie) talking to another replica. */
  function on(url: string, visitor: Visitor): Visitor {
    const other = new Visitor(url);
    other.cookie = visitor.cookie;
    return other;
  }

  const sessionKeys = async (prefix: string) => (await admin.keys(`${prefix}*`)).filter((key) => !key.startsWith(`${prefix}user:`));

  it('answers anonymous requests, logs in through the guard, and knows req.user on the other replica', async () => {
    const { a, b } = await replicas();
    const anonymous = new Visitor(a);
    const pub = await anonymous.get('/public');
    expect(pub.status).toBe(200);
    expect(pub.setCookie).toBeNull(); // passport.session() reads the session: still no cookie, no Redis write
    expect((await anonymous.get('/me')).status).toBe(401);
    expect((await anonymous.post('/login', { username: 'ada', password: 'wrong' })).status).toBe(401);

    const ada = await logIn(a);
    expect((await on(b, ada).get('/me')).body).toEqual({ id: 'u1', username: 'ada' });
  });

  it('kills the session ID the visitor had before logging in (fixation), keeping nothing under it', async () => {
    const { a, b, prefix } = await replicas();
    const visitor = new Visitor(a);
    expect((await visitor.post('/visit')).body).toEqual({ visits: 1 });
    const before = visitor.cookie!;
    expect(await sessionKeys(prefix)).toHaveLength(1);

    await visitor.post('/login', { username: 'ada', password: 'lovelace' });
    expect(visitor.cookie).not.toBe(before);
    const stale = new Visitor(b);
    stale.cookie = before;
    expect((await stale.get('/me')).status).toBe(401);
    expect(await sessionKeys(prefix)).toHaveLength(1); // the logged-in one only
    expect((await on(b, visitor).get('/me')).status).toBe(200);
  });

  it('req.logout ends the session on every replica and takes it out of the index', async () => {
    const { a, b, prefix } = await replicas();
    const ada = await logIn(a);
    const cookie = ada.cookie!;
    expect(await admin.zcard(`${prefix}user:u1`)).toBe(1);
    const events: SessionEvent[] = [];
    const subscription = running[running.length - 1].get(SessionEvents).subscribe((event) => events.push(event));
    expect((await on(b, ada).post('/logout')).status).toBe(204);
    subscription.unsubscribe();
    // passport saves the session without its user, then regenerates to an empty session that is never
    // stored: the one it left is announced as ended, naming the user its save took it from, so its sockets close.
    expect(events.map(({ type, userId }) => [type, userId])).toEqual([['destroyed', 'u1']]);

    const replay = new Visitor(a);
    replay.cookie = cookie;
    expect((await replay.get('/me')).status).toBe(401);
    expect((await on(b, replay).get('/me')).status).toBe(401);
    expect(await sessionKeys(prefix)).toEqual([]);
    expect(await admin.zcard(`${prefix}user:u1`)).toBe(0);
  });

  it('lists passport sessions and logs them out everywhere, across two logins', async () => {
    const { a, b, prefix } = await replicas();
    const phone = await logIn(a, 'ada', 'lovelace', 'Phone');
    const laptop = await logIn(b, 'ada', 'lovelace', 'Laptop');
    const alan = await logIn(a, 'alan', 'turing');

    const listed = (await on(a, laptop).get('/sessions')).body as { userAgent: string; current: boolean }[];
    expect(listed.map((row) => [row.userAgent, row.current])).toEqual([
      ['Laptop', true],
      ['Phone', false],
    ]);

    expect((await on(a, laptop).post('/logout-all')).body).toEqual({ deleted: 2 });
    for (const url of [a, b]) {
      expect((await on(url, phone).get('/me')).status).toBe(401);
      expect((await on(url, laptop).get('/me')).status).toBe(401);
    }
    expect((await on(b, alan).get('/me')).status).toBe(200); // another user's session is untouched
    expect(await admin.zcard(`${prefix}user:u1`)).toBe(0);
  });

  it('applies users.maxSessions to passport logins: the oldest goes', async () => {
    const { a, b, prefix } = await replicas({ users: { maxSessions: 2 } });
    const first = await logIn(a);
    const second = await logIn(b);
    const third = await logIn(a);
    expect((await on(b, first).get('/me')).status).toBe(401);
    expect((await on(b, second).get('/me')).status).toBe(200);
    expect((await on(b, third).get('/me')).status).toBe(200);
    expect(await admin.zcard(`${prefix}user:u1`)).toBe(2);
    expect(await sessionKeys(prefix)).toHaveLength(2);
  });

  it("applies users.maxSessions to passport logins: onLimit 'reject' answers 409 and stores nothing", async () => {
    const { a, b, prefix } = await replicas({ users: { maxSessions: 1, onLimit: 'reject' } });
    const first = await logIn(a);
    const refused = await new Visitor(b).post('/login', { username: 'ada', password: 'lovelace' });
    expect(refused.status).toBe(409);
    expect(refused.body.message).toMatch(/users\.maxSessions/);
    expect((await on(b, first).get('/me')).status).toBe(200);
    expect(await sessionKeys(prefix)).toHaveLength(1);
  });

  it("a refused passport login frees the place the browser's previous user held: passport's regenerate ended that session", async () => {
    // The browser logged in as alan tries ada's account, refused: passport's regenerate had already
    // ended alan's session there, so he has no live session left, and may log in again at once (the
    // entry his session's move carried, held by its old key's `moving` mark for minutes, is gone).
    const { a, b, prefix } = await replicas({ users: { maxSessions: 1, onLimit: 'reject' } });
    await logIn(a);
    const browser = await logIn(b, 'alan', 'turing');
    expect((await browser.post('/login', { username: 'ada', password: 'lovelace' })).status).toBe(409);
    expect(await admin.zcard(`${prefix}user:u2`)).toBe(0);
    expect((await new Visitor(a).post('/login', { username: 'alan', password: 'turing' })).status).toBe(200);
  });

  it('answers a login 503 while Redis is away, as any session call, never a 500', async () => {
    const away = await startRedis({ controllable: true });
    process.env.REDIS_URL = away.url;
    try {
      const { a } = await replicas({ redisDeadline: 300 });
      await away.interrupt();
      const refused = await new Visitor(a).post('/login', { username: 'ada', password: 'lovelace' });
      expect(refused.status).toBe(503);
      expect(refused.body.message).toMatch(/Session store unavailable/);
      await away.resume();
      // Once the app's client has reconnected (ioredis's backoff), logins succeed again.
      let status = 0;
      for (const deadline = Date.now() + 10_000; status !== 200 && Date.now() < deadline;) {
        status = (await new Visitor(a).post('/login', { username: 'ada', password: 'lovelace' })).status;
        if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(status).toBe(200);
    } finally {
      process.env.REDIS_URL = redis.url;
      await away.stop();
    }
  });

  // Express: main.ts's app.use() runs before Nest's middleware consumer. Fastify: the preHandler hook runs after it.
  const onExpress = testHttpPlatform() === 'express' ? it : it.skip;
  const onFastify = testHttpPlatform() === 'fastify' ? it : it.skip;

  onFastify("with forRoutes, passport in Fastify's preHandler finds the session loaded", async () => {
    const { a, b } = await replicas({ forRoutes: ['*'] });
    expect((await new Visitor(a).get('/public')).status).toBe(200);
    const ada = await logIn(a);
    expect((await on(b, ada).get('/me')).body).toEqual({ id: 'u1', username: 'ada' });
  });

  onExpress('with forRoutes, main.ts passport fails the first request with a message naming the fix', async () => {
    const { a } = await replicas({ forRoutes: ['*'] });
    const res = await new Visitor(a).get('/public');
    expect(res.status).toBe(500);
    expect(res.body.message).toMatch(/before SessionModule handled this request.*configure\(\)/s);
  });
});

describe("the README's passport section", () => {
  /** The code block between `<!-- name:begin -->` and `<!-- name:end -->` in README.md. */
  function readmeBlock(name: string): string {
    const readme = readFileSync(join(__dirname, '../../libs/session/README.md'), 'utf8');
    const block = new RegExp(`<!-- ${name}:begin -->\\s*\`\`\`ts\\n([\\s\\S]*?)\`\`\`\\s*<!-- ${name}:end -->`).exec(readme);
    if (!block) throw new Error(`README.md has no block between the ${name} markers`);
    return block[1];
  }

  it.each([
    ['passport-main', 'main.ts'],
    ['passport-fastify-main', 'main-fastify.ts'],
    ['passport-auth', 'auth.ts'],
  ])('shows %s exactly as the test app has it (app/%s)', (name, file) => {
    expect(readmeBlock(name)).toBe(readFileSync(join(__dirname, 'app', file), 'utf8'));
  });
});

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}
