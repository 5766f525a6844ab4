import Redis from 'ioredis';
import { FIELD } from '@app/session/redis/session-fields';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { sessionRedisKey } from '../support/key-scheme';
import { startSessionApp, type RunningApp } from './support/session-app';
import { Visitor } from './support/http-client';

/**
 * README, Security: a session key's value that is not valid JSON reads as absent when first reached,
 * and the rest of the session serves. A renewal moves the session's user index entry with the user
 * it reads from the session as a request reads it: one corrupt value elsewhere does not lose the
 * entry, so the renewed session is listed and "log out everywhere" ends it.
 */
describe('renewal of a session holding one corrupt value, and the user index', () => {
  let redis: RedisServerHandle;
  let admin: Redis;
  let app: RunningApp;
  const interval = 60_000;
  const prefix = uniquePrefix('renew-index');

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    app = await startSessionApp({ redis: redis.url, prefix, renewal: { interval, grace: 30_000 } });
  });

  afterAll(async () => {
    admin?.disconnect();
    await app?.close();
    await redis?.stop();
  });

  function idOf(cookie: string): string {
    return decodeURIComponent(cookie.split('=')[1]).slice(2).split('.')[0];
  }

  it('keeps the renewed session in its user index: log out everywhere ends it', async () => {
    const laptop = new Visitor(app.url);
    expect((await laptop.post('/set/note', { value: 'kept' })).status).toBe(200);
    expect((await laptop.post('/login', { id: 'renew-index-user' })).status).toBe(200);
    const phone = new Visitor(app.url);
    expect((await phone.post('/login', { id: 'renew-index-user' })).status).toBe(200);
    const laptopKey = sessionRedisKey(prefix, idOf(laptop.cookie!));
    await admin.hset(laptopKey, 'note', '{not json'); // one corrupt value: the rest still serves
    expect((await laptop.get('/me')).status).toBe(200);

    const oldCookie = laptop.cookie!;
    await admin.hset(laptopKey, FIELD.issuedAt, String(Date.now() - interval - 1_000));
    const renewed = await laptop.get('/me');
    expect(renewed.status).toBe(200);
    expect(idOf(laptop.cookie!)).not.toBe(idOf(oldCookie)); // renewed: a new cookie

    const listed = ((await phone.get('/sessions')).body as unknown[]).length;
    expect((await phone.post('/logout-all', {})).status).toBe(200);
    const laptopAfterLogoutEverywhere = (await laptop.get('/me')).status;
    expect({ listed, laptopAfterLogoutEverywhere }).toEqual({ listed: 2, laptopAfterLogoutEverywhere: 401 });
  });
});
