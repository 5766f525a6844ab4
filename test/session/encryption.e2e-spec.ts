import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { Module } from '@nestjs/common';
import { SessionConfigError, SessionModule, SessionService } from '@app/session';
import { SessionCore } from '@app/session/store/session-core';
import { storedField, storedHash } from '../support/key-scheme';
import { openMonitor } from '../support/monitor';
import { uniquePrefix } from '../support/prefix';
import { createNestApp } from '../support/http-platform';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { Visitor } from './support/http-client';
import { TEST_SECRET, startSessionApp, type RunningApp } from './support/session-app';

/**
 * The `encryption` option through the whole module: logins, carts and CSRF tokens never in clear on
 * the wire to Redis, a tampered session read as anonymous (never a 500), the metadata `list` shows
 * opened, and a key rotation that logs nobody out, re-sealed in place by `SessionService.reseal()`.
 */
describe('encryption at rest', () => {
  let redis: RedisServerHandle;
  let admin: Redis;
  const apps: RunningApp[] = [];
  const OLD_KEY = randomBytes(32).toString('base64');
  const NEW_KEY = randomBytes(32).toString('base64');
  const USER_AGENT = 'Mozilla/5.0 (Encrypted-Test-Browser)';

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
  });

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    admin?.disconnect();
    await redis?.stop();
  });

  async function appWith(keys: string[], prefix: string): Promise<RunningApp> {
    const app = await startSessionApp({ redis: redis.url, prefix, encryption: { keys } });
    apps.push(app);
    return app;
  }

  /** Every session hash under the prefix, as Redis holds it, each value whole (a long one is held in pieces). */
  async function sessionHashes(prefix: string): Promise<Record<string, string>[]> {
    const keys = (await admin.keys(`${prefix}*`)).filter((key) => !key.includes(':user:'));
    return Promise.all(keys.map((key) => storedHash(admin, key)));
  }

  /** The Redis key of the one session under the prefix that has this field. */
  async function sessionKeyWith(prefix: string, field: string): Promise<string> {
    const keys = (await admin.keys(`${prefix}*`)).filter((key) => !key.includes(':user:'));
    const found = await Promise.all(keys.map((key) => admin.hexists(key, field)));
    expect(found.filter(Boolean)).toHaveLength(1);
    return keys[found.indexOf(1)];
  }

  /** A logged-in visitor with a cart and a CSRF token. */
  async function shopper(app: RunningApp, name: string): Promise<{ visitor: Visitor; csrfToken: string }> {
    const visitor = new Visitor(app.url);
    expect((await visitor.post('/set/cart', { value: ['oolong-tea'] }, { 'user-agent': USER_AGENT })).status).toBe(200);
    const login = await visitor.post('/login', { id: name, name: `${name} Hopper` }, { 'user-agent': USER_AGENT });
    expect(login.status).toBe(200);
    return { visitor, csrfToken: login.body.csrfToken };
  }

  it('sends Redis no plaintext of a user, a cart, a CSRF token or a user agent, and shows them opened to the app', async () => {
    const prefix = uniquePrefix('enc-wire');
    const app = await appWith([NEW_KEY], prefix);
    const seen: string[][] = [];
    const monitor = await openMonitor(redis.url, (_time, args) => seen.push(args));
    let shopped: { visitor: Visitor; csrfToken: string } | undefined;
    try {
      shopped = await shopper(app, 'grace');
      expect((await shopped.visitor.get('/me')).body.user).toMatchObject({ id: 'grace', name: 'grace Hopper' });
      expect((await shopped.visitor.post('/items', { item: 'teapot' })).status).toBe(200);
    } finally {
      monitor.disconnect();
    }
    const { visitor, csrfToken } = shopped;
    const sessions = await visitor.get('/sessions');
    expect(sessions.body).toEqual([expect.objectContaining({ userAgent: USER_AGENT, ip: expect.stringMatching(/127\.0\.0\.1/), current: true })]);
    expect((await visitor.get('/whole')).body).toMatchObject({ cart: ['oolong-tea'], items: ['teapot'], csrfToken });

    const held = await sessionHashes(prefix);
    expect(held).toHaveLength(1);
    for (const field of ['cart', 'items', 'user', 'csrfToken', ':u', ':i']) expect(held[0][field]).toMatch(/^~/);
    const everything = JSON.stringify([held, seen]);
    for (const secret of ['oolong', 'teapot', 'Hopper', csrfToken, 'Encrypted-Test-Browser']) expect(everything).not.toContain(secret);
  });

  it('answers a session whose user was copied from another session as logged out (the copy reads as absent), never a 500', async () => {
    const prefix = uniquePrefix('enc-copy');
    const app = await appWith([NEW_KEY], prefix);
    const victim = await shopper(app, 'ada');
    const attacker = new Visitor(app.url);
    await attacker.post('/set/note', { value: 'mine' });
    const [victimKey, attackerKey] = await Promise.all([sessionKeyWith(prefix, 'user'), sessionKeyWith(prefix, 'note')]);
    await admin.hset(attackerKey, 'user', (await storedField(admin, victimKey, 'user'))!);

    const me = await attacker.get('/me');
    expect(me.status).toBe(401);
    expect((await attacker.get('/whole')).body).toEqual({ note: 'mine' });
    expect((await victim.visitor.get('/me')).status).toBe(200);
  });

  it("opens the device metadata only to list it: a request's save keeps it as sealed, and one that does not open lists as null", async () => {
    const prefix = uniquePrefix('enc-device');
    const app = await appWith([NEW_KEY], prefix);
    const { visitor } = await shopper(app, 'mary');
    const key = await sessionKeyWith(prefix, 'user');
    const sealedAgent = await storedField(admin, key, ':u');
    expect((await visitor.post('/items', { item: 'kettle' })).status).toBe(200); // a save of the session
    await expect(storedField(admin, key, ':u')).resolves.toBe(sealedAgent); // not written again
    expect((await visitor.get('/sessions')).body).toEqual([expect.objectContaining({ userAgent: USER_AGENT, current: true })]);

    // The user agent of another session copied over this one's: it does not open, but only `list` reads it.
    const other = await shopper(app, 'mary');
    const otherKey = (await admin.keys(`${prefix}*`)).find((candidate) => candidate !== key && !candidate.includes(':user:'))!;
    await admin.hset(key, ':u', (await storedField(admin, otherKey, ':u'))!);
    const me = await visitor.get('/me');
    expect(me.status).toBe(200);
    expect(me.body.user).toMatchObject({ id: 'mary' });
    const listed = (await other.visitor.get('/sessions')).body as { userAgent: string | null; current: boolean }[];
    expect(listed.map((entry) => [entry.current, entry.userAgent]).sort()).toEqual([
      [false, null],
      [true, USER_AGENT],
    ]);
  });

  it('counts a value a request left sealed exactly when its sealed length alone would refuse, for a save and for update()', async () => {
    // One character of JSON and two bytes of UTF-8: the count from a sealed value's length (bytes) is
    // above the characters the limit counts, so only an exact count, opening the value, gives it.
    const note = 'é'.repeat(100); // JSON: 102 characters, 202 bytes; with its name 106, or 206 by its sealed length
    const prefix = uniquePrefix('enc-size');
    const app = await startSessionApp({ redis: redis.url, prefix, encryption: { keys: [NEW_KEY] }, maxSessionBytes: 150 });
    apps.push(app);
    const visitor = new Visitor(app.url);
    expect((await visitor.post('/set/note', { value: note })).status).toBe(200);
    // Each request below leaves the note sealed: none reads it.
    expect((await visitor.post('/set/theme', { value: 'x' })).status).toBe(200); // 106 + 8
    expect((await visitor.post('/items', { item: 'x' })).status).toBe(200); // + 10 = 124
    expect((await visitor.post('/items', { item: 'y'.repeat(30) })).status).toBe(413); // items 43: 157
    expect((await visitor.post('/set/theme', { value: 'x'.repeat(34) })).status).toBe(413); // theme 41: 157
    expect((await visitor.get('/whole')).body).toEqual({ note, theme: 'x', items: ['x'] });
  });

  it('keeps everyone logged in across a key rotation, and reseal() moves every value to the new key', async () => {
    const prefix = uniquePrefix('enc-rotate');
    const before = await appWith([OLD_KEY], prefix);
    const shoppers = await Promise.all(['a', 'b', 'c'].map((name) => shopper(before, name)));
    const sealedBefore = await sessionHashes(prefix);

    // Step 1 of the procedure: the new key goes first on every replica; the old one still opens.
    const rotated = await appWith([NEW_KEY, OLD_KEY], prefix);
    for (const { visitor } of shoppers) {
      const on = new Visitor(rotated.url);
      on.cookie = visitor.cookie;
      expect((await on.get('/me')).status).toBe(200);
    }
    // Step 2: reseal in place. Every app value and device field of each session was under the old key.
    const report = await rotated.app.get(SessionService).reseal();
    const sealedFields = (hash: Record<string, string>) => Object.keys(hash).filter((field) => hash[field].startsWith('~'));
    const expected = sealedBefore.reduce((sum, hash) => sum + sealedFields(hash).length, 0);
    expect(report).toEqual({ sessions: 3, resealed: expected, changed: 0, unopenable: 0 });
    await expect(rotated.app.get(SessionService).reseal()).resolves.toEqual({ sessions: 3, resealed: 0, changed: 0, unopenable: 0 });

    // Step 3: the old key can go. The sessions open with the new key alone, and no longer with the old one.
    const newOnly = await appWith([NEW_KEY], prefix);
    const oldOnly = await appWith([OLD_KEY], prefix);
    for (const { visitor } of shoppers) {
      const onNew = new Visitor(newOnly.url);
      onNew.cookie = visitor.cookie;
      expect((await onNew.get('/whole')).body).toMatchObject({ cart: ['oolong-tea'] });
      const onOld = new Visitor(oldOnly.url);
      onOld.cookie = visitor.cookie;
      expect((await onOld.get('/me')).status).toBe(401);
    }
  });

  it('reseal() leaves a value a request changed meanwhile as that request wrote it (compare-and-set per field)', async () => {
    const prefix = uniquePrefix('enc-reseal-race');
    const before = await appWith([OLD_KEY], prefix);
    const { visitor } = await shopper(before, 'kay');
    expect((await visitor.post('/items', { item: 'first' })).status).toBe(200);
    const rotated = await appWith([NEW_KEY, OLD_KEY], prefix);
    // A replica not rolled over yet: it opens both keys but still seals with the old one.
    const lagging = new Visitor((await appWith([OLD_KEY, NEW_KEY], prefix)).url);
    lagging.cookie = visitor.cookie;
    const onRotated = new Visitor(rotated.url);
    onRotated.cookie = visitor.cookie;
    // Just before the reseal writes "items", that replica adds to it.
    const gateway = rotated.app.get(SessionCore).gateway;
    const compareAndSet = gateway.compareAndSet.bind(gateway);
    let raced = 0;
    gateway.compareAndSet = async (args) => {
      if (args.field === 'items' && raced++ === 0) expect((await lagging.post('/items', { item: 'meanwhile' })).status).toBe(200);
      return compareAndSet(args);
    };
    const report = await rotated.app.get(SessionService).reseal();
    expect(raced).toBe(1);
    expect(report).toMatchObject({ sessions: 1, changed: 1, unopenable: 0 });
    expect((await onRotated.get('/whole')).body.items).toEqual(['first', 'meanwhile']);
    // The value the other replica wrote, under the old key, is picked up by the next run.
    await expect(rotated.app.get(SessionService).reseal()).resolves.toMatchObject({ resealed: 1, changed: 0 });
  });

  it('refuses to boot with a key shorter than 32 bytes, naming it', async () => {
    const short = randomBytes(24).toString('base64');
    @Module({ imports: [SessionModule.forRoot({ secret: TEST_SECRET, redis: redis.url, encryption: { keys: [NEW_KEY, short] } })] })
    class ShortKeyModule {}
    const boot = createNestApp(ShortKeyModule, { logger: false, abortOnError: false });
    await expect(boot).rejects.toThrow(SessionConfigError);
    await expect(boot).rejects.toThrow('"encryption.keys[1]" must hold at least 32 bytes');
  });
});
