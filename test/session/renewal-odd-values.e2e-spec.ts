import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { FIELD } from '@app/session/redis/session-fields';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { sessionRedisKey, storedField } from '../support/key-scheme';
import { startSessionApp, type RunningApp } from './support/session-app';
import { Visitor, type TestResponse } from './support/http-client';
import { gates } from './support/gates';
import { sessionIdOf } from './support/event-log';

/**
 * README, "Encryption at rest" and Security: a value that does not open (tampered with, or copied from
 * another field or session) or is not valid JSON reads as absent when a request reaches it, and the
 * rest of the session serves; device metadata that does not open is listed as `null`. A periodic
 * renewal keeps it so: it carries such a value over as it is (still absent), moves the user's index
 * entry with the user it reads as a request reads it, and an `update` that follows it to the
 * successor reads such a value as absent and replaces it.
 */
describe('A renewal of a session holding a value that does not open, or is corrupt', () => {
  const interval = 60_000;
  let redis: RedisServerHandle;
  let admin: Redis;
  let sealed: RunningApp;
  let plain: RunningApp;

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    const renewal = { interval, grace: 30_000 };
    sealed = await startSessionApp({
      redis: redis.url,
      prefix: uniquePrefix('odd-sealed'),
      renewal,
      encryption: { keys: [randomBytes(32).toString('base64')] },
    });
    plain = await startSessionApp({ redis: redis.url, prefix: uniquePrefix('odd-plain'), renewal });
  });

  afterAll(async () => {
    admin?.disconnect();
    await Promise.all([sealed?.close(), plain?.close()]);
    await redis?.stop();
  });

  function keyOf(app: RunningApp, cookie: string): string {
    return sessionRedisKey(app.prefix, sessionIdOf(cookie));
  }

  /** Makes the session of `cookie` due for renewal: issued longer ago than the interval. */
  async function makeDue(app: RunningApp, cookie: string): Promise<void> {
    await admin.hset(keyOf(app, cookie), FIELD.issuedAt, String(Date.now() - interval - 1_000));
  }

  /** A logged-in visitor with a note, beside another of the same app whose sealed values can be copied over. */
  async function loggedInPair(name: string): Promise<{ victim: Visitor; other: Visitor }> {
    const [victim, other] = [new Visitor(sealed.url), new Visitor(sealed.url)];
    for (const [visitor, id] of [
      [victim, name],
      [other, `${name}-other`],
    ] as const) {
      expect((await visitor.post('/set/note', { value: `note of ${id}` })).status).toBe(200);
      expect((await visitor.post('/login', { id })).status).toBe(200);
    }
    return { victim, other };
  }

  it.each([
    ['an app key copied from another session', 'note'],
    ['device metadata copied from another session', FIELD.userAgent],
  ])('keeps the user logged in across a renewal when %s does not open', async (_what, field) => {
    const { victim, other } = await loggedInPair(`odd-${field}`);
    await admin.hset(keyOf(sealed, victim.cookie!), field, (await storedField(admin, keyOf(sealed, other.cookie!), field))!);
    const before = victim.cookie!;
    expect((await victim.get('/me')).status).toBe(200);
    await makeDue(sealed, before);
    expect((await victim.get('/me')).status).toBe(200);
    expect(victim.cookie).not.toBe(before); // renewed
    expect((await victim.get('/me')).status).toBe(200);
    if (field === 'note') expect((await victim.get('/whole')).body.note).toBeUndefined();
  });

  it('keeps a renewed session holding a corrupt value in its user index: listed, and ended by log out everywhere', async () => {
    const laptop = new Visitor(plain.url);
    await laptop.post('/set/note', { value: 'kept' });
    expect((await laptop.post('/login', { id: 'odd-index' })).status).toBe(200);
    const phone = new Visitor(plain.url);
    expect((await phone.post('/login', { id: 'odd-index' })).status).toBe(200);
    await admin.hset(keyOf(plain, laptop.cookie!), 'note', '{not json');
    const before = laptop.cookie!;
    await makeDue(plain, before);
    expect((await laptop.get('/me')).status).toBe(200);
    expect(laptop.cookie).not.toBe(before); // renewed

    expect((await phone.get('/sessions')).body).toHaveLength(2);
    expect((await phone.post('/logout-all', {})).body).toEqual({ deleted: 2 });
    expect((await laptop.get('/me')).status).toBe(401);
  });

  it('an update() that follows a renewal to a value that does not open there reads it as absent and replaces it: 200, never a 500', async () => {
    const visitor = new Visitor(sealed.url);
    expect((await visitor.post('/items', { item: 'first' })).status).toBe(200);
    const other = new Visitor(sealed.url);
    expect((await other.post('/items', { item: 'theirs' })).status).toBe(200);
    const oldCookie = visitor.cookie!;

    // The update's request loads the session under the old ID, then waits; another request renews the ID.
    const gate = gates.unique('odd-update');
    const pending: Promise<TestResponse> = new Visitor(sealed.url).request('POST', '/items', {
      body: { item: 'second', gate },
      headers: { cookie: oldCookie },
    });
    await gates.arrived(gate);
    await makeDue(sealed, oldCookie);
    const newCookie = (await new Visitor(sealed.url).request('GET', '/whole', { headers: { cookie: oldCookie } })).setCookie!.split(';')[0];
    // The successor's "items" is a copy of another session's: it does not open there.
    await admin.hset(keyOf(sealed, newCookie), 'items', (await storedField(admin, keyOf(sealed, other.cookie!), 'items'))!);
    gates.open(gate);

    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ count: 1 });
    expect((await new Visitor(sealed.url).request('GET', '/whole', { headers: { cookie: newCookie } })).body.items).toEqual(['second']);
  });
});
