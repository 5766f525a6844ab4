import Redis, { type RedisOptions } from 'ioredis';
import { RedisSessionStore } from '@app/session';
import { SessionKeyUpdates } from '@app/session/service/atomic-update';
import type { SessionCore } from '@app/session/store/session-core';
import { SessionUserIndexKeeper } from '@app/session/users/user-index-keeper';
import { defaultSessionUserId } from '@app/session/users/user-id';
import { UserSessionIndex } from '@app/session/users/user-session-index';
import { deleteByPrefix, uniquePrefix } from '../support/prefix';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { freshSession, loadSession, newSid, recordingLogger, storeWithCore } from './fixtures';
import { digestOf, sessionRedisKey, storedHash } from '../support/key-scheme';

/**
 * The store on every wire protocol and reply mapping a client may use. ioredis 5 speaks RESP2 only
 * (it ignores `protocol`); ioredis 6 speaks RESP3 by default, with RESP2-shaped replies unless
 * `replyMapping: 'resp3'`. The script replies the store reads (nil for a missing session or field,
 * nested arrays, integers) and the plain commands it sends must mean the same on each.
 * `npm test` runs this on ioredis 6, `npm run test:ioredis5` on ioredis 5.
 */
declare const IOREDIS_MAJOR: 5 | 6; // set by the Jest config that runs this file

let redis: RedisServerHandle;
let admin: Redis;
const clients: Redis[] = [];
let prefix: string;

beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
});
afterAll(async () => {
  await Promise.all(clients.map((client) => client.quit()));
  await admin?.quit();
  await redis?.stop();
});
beforeEach(() => {
  prefix = uniquePrefix('proto');
});
afterEach(() => deleteByPrefix(admin, prefix));

/** The ioredis major this run loaded: only ioredis 6 fills in a default `protocol`. */
function loadedMajor(): 5 | 6 {
  const probe = new Redis({ lazyConnect: true });
  return probe.options.protocol === undefined ? 5 : 6;
}

it('runs on the ioredis major its Jest config names', () => {
  expect(loadedMajor()).toBe(IOREDIS_MAJOR);
});

const variants: [string, RedisOptions, { 5: number; 6: number }][] = [
  ['default options', {}, { 5: 2, 6: 3 }],
  ['protocol: 2', { protocol: 2 }, { 5: 2, 6: 2 }],
  ["protocol: 3, replyMapping: 'resp3'", { protocol: 3, replyMapping: 'resp3' }, { 5: 2, 6: 3 }],
];

describe.each(variants)('a client with %s', (_name, options, protocol) => {
  let store: RedisSessionStore;
  let core: SessionCore;
  let client: Redis;

  beforeEach(() => {
    client = new Redis(redis.url, options);
    clients.push(client);
    ({ store, core } = storeWithCore({ client, prefix, logger: recordingLogger() }));
  });

  it(`speaks RESP${protocol[IOREDIS_MAJOR]}`, async () => {
    const info = await client.client('INFO');
    expect(info).toMatch(new RegExp(`\\bresp=${protocol[IOREDIS_MAJOR]}\\b`));
  });

  it('reads a missing session as none, and a stored one back whole', async () => {
    await expect(store.get(newSid())).resolves.toBeNull();
    const sid = newSid();
    await store.set(sid, freshSession(store, sid, { cart: ['a'], n: 1 }, { maxAge: 60_000 }));
    const session = await loadSession(store, sid);
    expect(session.cart).toEqual(['a']);
    expect(session.n).toBe(1);
    expect(session.cookie.maxAge).toBeGreaterThan(50_000);
  });

  it("reads a session's hash as one record of its fields, a missing key as null and another type as wrongType", async () => {
    const sid = newSid();
    await store.set(sid, freshSession(store, sid, { cart: ['a'] }, { maxAge: 60_000 }));
    const key = sessionRedisKey(prefix, sid);
    const fields = await core.gateway.readSession(key);
    expect(fields).toEqual(await storedHash(admin, key));
    expect(Object.values(fields as object).every((value) => typeof value === 'string')).toBe(true);
    expect(fields).toMatchObject({ cart: '["a"]', ':e': expect.stringMatching(/^\d+$/) });
    await expect(core.gateway.readSession(sessionRedisKey(prefix, newSid()))).resolves.toBeNull();
    await admin.set(`${prefix}not-a-hash`, 'x');
    await expect(core.gateway.readSession(`${prefix}not-a-hash`)).resolves.toBe('wrongType');
  });

  it('retries a compare-and-set whose field was deleted meanwhile, and writes', async () => {
    const sid = newSid();
    await store.set(sid, freshSession(store, sid, { cart: ['a'] }, { maxAge: 60_000 }));
    const session = await loadSession(store, sid);
    await admin.hdel(sessionRedisKey(prefix, sid), 'cart'); // the script now finds nil where it expected ["a"]
    const change = jest.fn((cart: string[] | undefined) => [...(cart ?? []), 'b']);
    await expect(new SessionKeyUpdates(core, 3).update(sid, session, 'cart', change)).resolves.toEqual(['b']);
    expect(change.mock.calls).toEqual([[['a']], [undefined]]);
    await expect(admin.hget(sessionRedisKey(prefix, sid), 'cart')).resolves.toBe('["b"]');
  });

  it('drops the write to a session destroyed meanwhile, and touches a missing one without error', async () => {
    const sid = newSid();
    await store.set(sid, freshSession(store, sid, { cart: ['a'] }, { maxAge: 60_000 }));
    const session = await loadSession(store, sid);
    await store.destroy(sid);
    session.cart = ['a', 'b'];
    await store.set(sid, session);
    await expect(admin.exists(sessionRedisKey(prefix, sid))).resolves.toBe(0);
    await expect(store.touch(newSid(), session)).resolves.toBeUndefined();
  });

  it("indexes a user's sessions: join with the save, list, evict past the limit", async () => {
    let index!: UserSessionIndex;
    const indexed = storeWithCore(
      { client, prefix, logger: recordingLogger() },
      {
        features: (context) => {
          index = new UserSessionIndex(context, { maxSessions: 2, onLimit: 'evict-oldest' });
          return { indexKeeper: new SessionUserIndexKeeper(index, defaultSessionUserId) };
        },
      },
    );
    const digests: string[] = [];
    for (let i = 0; i < 3; i++) {
      const sid = newSid();
      const session = freshSession(indexed.store, sid, { user: { id: 'u1' } }, { maxAge: 60_000 });
      indexed.core.context.stateFor(session).createdAt = Date.now() + i; // distinct scores: the oldest is the first
      await indexed.store.set(sid, session);
      digests.push(digestOf(sid));
      const alive = await Promise.all(digests.map((digest) => admin.exists(core.context.redisKeyOfDigest(digest))));
      expect(alive).toEqual(i === 2 ? [0, 1, 1] : digests.map(() => 1)); // the third login evicts the first session
    }
    const members = await admin.zrange(index.redisKeyOf('u1'), 0, '-1');
    expect(members.sort()).toEqual([digests[1], digests[2]].sort());
    const listed = await index.list('u1');
    expect(listed).toHaveLength(2);
    expect(listed.map((entry) => entry.createdAt.getTime()).every(Number.isFinite)).toBe(true);
  });
});
