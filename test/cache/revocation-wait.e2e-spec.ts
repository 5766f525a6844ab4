import Redis from 'ioredis';
import { SessionGateway, type WriteListener } from '@app/session/redis/session-gateway';
import { uniquePrefix } from '../support/prefix';
import { startRedis, type RedisServerHandle } from '../support/redis';

/**
 * Issue 10, §2: a deletion (logout, revoke, log out everywhere, a login's old ID) resolves only once
 * the near cache says Redis's invalidation of the key has reached this replica. The listener here is
 * a stand-in for the cache (the real one is exercised by the coherence specs); Redis is real.
 */
describe('a deletion waits for its invalidation', () => {
  let redis: RedisServerHandle;
  let client: Redis;
  const prefix = uniquePrefix('revocation-wait');

  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
  });

  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
  });

  /** A listener whose invalidations arrive when the test says so, recording what it was told. */
  function controlledListener() {
    const events: string[] = [];
    let arrive!: () => void;
    const listener: WriteListener = {
      writing: (key) => void events.push(`writing ${key}`),
      written: (key) => {
        events.push(`written ${key}`);
        return undefined;
      },
      expectInvalidation: (key) => {
        events.push(`expect ${key}`);
        const arrived = new Promise<void>((resolve) => (arrive = resolve));
        return { arrived, cancel: () => events.push(`cancel ${key}`) };
      },
    };
    return { listener, events, arrive: () => arrive() };
  }

  it('does not resolve before the invalidation arrived, and registers the wait before the DEL is sent', async () => {
    const { listener, events, arrive } = controlledListener();
    const gateway = new SessionGateway({ client, deadline: 1_000, writeListener: listener });
    const key = `${prefix}session`;
    await client.hset(key, 'a', '1');

    let resolved = false;
    const deletion = gateway.deleteKey(key).then((deleted) => {
      resolved = true;
      return deleted;
    });
    // The gateway shares this connection: once EXISTS answers, the DEL's reply was handled before it.
    expect(await client.exists(key)).toBe(0); // the DEL ran…
    await new Promise(setImmediate);
    expect(resolved).toBe(false); // …but the deletion waits for this replica's invalidation
    arrive();
    expect(await deletion).toBe(1);
    expect(events).toEqual([`expect ${key}`, `writing ${key}`, `written ${key}`, `cancel ${key}`]);
  });

  it('does not wait for a key that did not exist (Redis sends no invalidation for it)', async () => {
    const { listener } = controlledListener();
    const gateway = new SessionGateway({ client, deadline: 1_000, writeListener: listener });
    expect(await gateway.deleteKey(`${prefix}never-there`)).toBe(0);
  });
});
