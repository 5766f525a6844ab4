import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { FIELD } from '@app/session/redis/session-fields';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { sessionRedisKey, storedField } from '../support/key-scheme';
import { startSessionApp, type RunningApp } from './support/session-app';
import { Visitor } from './support/http-client';

/**
 * README, "Encryption at rest": a value that does not open (tampered with, or copied from another
 * field or session) reads as absent when a request reaches it, and the rest of the session serves;
 * device metadata that does not open is listed as `null`. A renewal re-seals every value for the new
 * key: one that does not open is carried over as it is, still absent, and the user stays logged in.
 */
describe('renewal of a session holding one value that does not open', () => {
  let redis: RedisServerHandle;
  let admin: Redis;
  let app: RunningApp;
  const interval = 60_000;
  const prefix = uniquePrefix('renew');

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    app = await startSessionApp({
      redis: redis.url,
      prefix,
      renewal: { interval, grace: 30_000 },
      encryption: { keys: [randomBytes(32).toString('base64')] },
    });
  });

  afterAll(async () => {
    admin?.disconnect();
    await app?.close();
    await redis?.stop();
  });

  function idOf(cookie: string): string {
    return decodeURIComponent(cookie.split('=')[1]).slice(2).split('.')[0];
  }

  async function loggedIn(name: string): Promise<{ visitor: Visitor; key: string }> {
    const visitor = new Visitor(app.url);
    expect((await visitor.post('/set/note', { value: `note of ${name}` })).status).toBe(200);
    expect((await visitor.post('/login', { id: name })).status).toBe(200);
    return { visitor, key: sessionRedisKey(prefix, idOf(visitor.cookie!)) };
  }

  async function renewNow(key: string): Promise<void> {
    await admin.hset(key, FIELD.issuedAt, String(Date.now() - interval - 1_000));
  }

  it('keeps the user logged in across a renewal when an app key was copied from another session (that key alone reads as absent)', async () => {
    const victim = await loggedIn('renew-victim-1');
    const other = await loggedIn('renew-other-1');
    // A value copied from another session: before the renewal, the session serves without it.
    await admin.hset(victim.key, 'note', (await storedField(admin, other.key, 'note'))!);
    expect((await victim.visitor.get('/me')).status).toBe(200);
    expect((await victim.visitor.get('/whole')).body.note).toBeUndefined();

    await renewNow(victim.key);
    const renewed = await victim.visitor.get('/me');
    expect(renewed.status).toBe(200);
    expect((await victim.visitor.get('/me')).status).toBe(200);
  });

  it('keeps the user logged in across a renewal when the device metadata does not open (list shows it as null)', async () => {
    const victim = await loggedIn('renew-victim-2');
    const other = await loggedIn('renew-other-2');
    await admin.hset(victim.key, FIELD.userAgent, (await storedField(admin, other.key, FIELD.userAgent))!);
    expect((await victim.visitor.get('/me')).status).toBe(200);

    await renewNow(victim.key);
    const renewed = await victim.visitor.get('/me');
    expect(renewed.status).toBe(200);
    expect((await victim.visitor.get('/me')).status).toBe(200);
  });
});
