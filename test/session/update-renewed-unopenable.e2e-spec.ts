import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { FIELD } from '@app/session/redis/session-fields';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { sessionRedisKey, storedField } from '../support/key-scheme';
import { startSessionApp, type RunningApp } from './support/session-app';
import { Visitor, type TestResponse } from './support/http-client';
import { gates } from './support/gates';

/**
 * README, "Encryption at rest": a value that does not open is never a 500; it reads as absent until
 * app code assigns the key, and `update()` assigns it. An `update()` whose session was renewed while
 * it ran follows the renewal to the successor and reads the field there: a value that does not open
 * there reads as absent too, and the compare-and-set replaces it.
 */
describe('update() that follows a renewal to a successor whose value does not open', () => {
  let redis: RedisServerHandle;
  let admin: Redis;
  let app: RunningApp;
  const interval = 60_000;
  const prefix = uniquePrefix('upd-renew');

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

  it('reads the value there as absent and replaces it: the update answers 200, never a 500', async () => {
    const visitor = new Visitor(app.url);
    expect((await visitor.post('/items', { item: 'first' })).status).toBe(200);
    const other = new Visitor(app.url);
    expect((await other.post('/items', { item: 'theirs' })).status).toBe(200);
    const oldCookie = visitor.cookie!;
    const oldKey = sessionRedisKey(prefix, idOf(oldCookie));

    // The update's request loads the session under the old ID, then waits before calling update().
    const gate = gates.unique('upd-renew');
    const pending: Promise<TestResponse> = new Visitor(app.url).request('POST', '/items', {
      body: { item: 'second', gate },
      headers: { cookie: oldCookie },
    });
    await gates.arrived(gate);

    // Meanwhile another request renews the ID.
    await admin.hset(oldKey, FIELD.issuedAt, String(Date.now() - interval - 1_000));
    const renewing = await new Visitor(app.url).request('GET', '/whole', { headers: { cookie: oldCookie } });
    const newCookie = renewing.setCookie?.split(';')[0];
    expect(newCookie).toBeDefined();
    const newKey = sessionRedisKey(prefix, idOf(newCookie!));
    // The successor's "items" is a copy of another session's (it reads as absent there).
    await admin.hset(newKey, 'items', (await storedField(admin, sessionRedisKey(prefix, idOf(other.cookie!)), 'items'))!);

    gates.open(gate);
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ count: 1 });
    expect((await new Visitor(app.url).request('GET', '/whole', { headers: { cookie: newCookie! } })).body.items).toEqual(['second']);
  });
});
