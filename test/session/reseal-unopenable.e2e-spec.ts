import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { SessionService } from '@app/session';
import { FIELD } from '@app/session/redis/session-fields';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { sessionRedisKey, storedField } from '../support/key-scheme';
import { startSessionApp, type RunningApp } from './support/session-app';
import { Visitor } from './support/http-client';
import { sessionIdOf } from './support/event-log';

/**
 * README, "Encryption at rest": a key rotation runs `reseal()` until `resealed` and `changed` are 0,
 * then drops the old key. A live session whose device field does not open (it serves, and `list`
 * shows that field as `null`) is counted `unopenable`, and its other values (the user, the cart) are
 * still resealed, so it serves under the new key alone.
 */
describe('reseal() of a session whose device metadata does not open', () => {
  let redis: RedisServerHandle;
  let admin: Redis;
  const apps: RunningApp[] = [];
  const OLD_KEY = randomBytes(32).toString('base64');
  const NEW_KEY = randomBytes(32).toString('base64');

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
  });

  afterAll(async () => {
    admin?.disconnect();
    await Promise.all(apps.map((app) => app.close()));
    await redis?.stop();
  });

  async function appWith(keys: string[], prefix: string): Promise<RunningApp> {
    const app = await startSessionApp({ redis: redis.url, prefix, encryption: { keys } });
    apps.push(app);
    return app;
  }
  it('reseals the values that open, so the session still serves under the new key alone after the rotation', async () => {
    const prefix = uniquePrefix('reseal-dev');
    const before = await appWith([OLD_KEY], prefix);
    const victim = new Visitor(before.url);
    expect((await victim.post('/set/cart', { value: ['tea'] })).status).toBe(200);
    expect((await victim.post('/login', { id: 'reseal-victim' })).status).toBe(200);
    const other = new Visitor(before.url);
    expect((await other.post('/login', { id: 'reseal-other' })).status).toBe(200);
    const victimKey = sessionRedisKey(prefix, sessionIdOf(victim.cookie!));
    const otherKey = sessionRedisKey(prefix, sessionIdOf(other.cookie!));
    // The user agent of another session copied over this one's: only `list` would notice (null).
    await admin.hset(victimKey, FIELD.userAgent, (await storedField(admin, otherKey, FIELD.userAgent))!);

    const rotated = await appWith([NEW_KEY, OLD_KEY], prefix);
    const onRotated = new Visitor(rotated.url);
    onRotated.cookie = victim.cookie;
    expect((await onRotated.get('/me')).status).toBe(200); // the session serves

    const service = rotated.app.get(SessionService);
    const first = await service.reseal();
    const second = await service.reseal();
    expect(second).toMatchObject({ resealed: 0, changed: 0 }); // the README's signal that step 4 is safe
    expect(first.resealed).toBeGreaterThan(0);

    const newOnly = await appWith([NEW_KEY], prefix);
    const onNew = new Visitor(newOnly.url);
    onNew.cookie = victim.cookie;
    expect((await onNew.get('/me')).status).toBe(200);
    expect((await onNew.get('/whole')).body).toMatchObject({ cart: ['tea'] });
  });
});
