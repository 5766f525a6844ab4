import { resolveStoreOptions } from '../options/resolve-store-options';
import { FIELD } from '../redis/session-fields';
import type { CompareAndSetReply, StoredFields } from '../redis/session-gateway';
import type { CompareAndSetArgs } from '../redis/scripts';
import { SessionObservers } from '../redis/session-observer';
import { resealSessions } from './reseal-sessions';
import { SessionContext } from './session-context';
import type { SessionCore } from './session-core';

/*
 * The key rotation's rewrite (reseal-sessions.ts) over a fake gateway: which values it rewrites, each
 * by a compare-and-set on the exact string read, what it counts, and how many sessions at once.
 */

const NEW_KEY = Buffer.alloc(32, 2);
const OLD_KEY = Buffer.alloc(32, 1);
const NOW = 1_800_000_000_000;

function contextWith(keys: Buffer[], acceptPlaintext = false) {
  const resolved = resolveStoreOptions({ client: { defineCommand: () => undefined } as never, prefix: 'app:', encryption: { keys, acceptPlaintext } });
  const logger = { warn: jest.fn(), error: jest.fn() };
  return { context: new SessionContext(resolved, {} as never, new SessionObservers(), logger), logger };
}

function setup(options: { acceptPlaintext?: boolean; cas?: (args: CompareAndSetArgs) => CompareAndSetReply } = {}) {
  const { context, logger } = contextWith([NEW_KEY, OLD_KEY], options.acceptPlaintext);
  const held = new Map<string, StoredFields | 'wrongType'>();
  const writes: CompareAndSetArgs[] = [];
  const gateway = {
    readSession: jest.fn((redisKey: string) => Promise.resolve(held.get(redisKey) ?? null)),
    compareAndSet: jest.fn((args: CompareAndSetArgs) => {
      writes.push(args);
      return Promise.resolve(options.cas ? options.cas(args) : { status: 'written' as const });
    }),
  };
  const digests = jest.fn(() => Promise.resolve([...held.keys()].map((redisKey) => context.digestOfKey(redisKey))));
  const core = { context, gateway, admin: { digests } } as unknown as SessionCore;
  return { core, context, held, writes, gateway, logger };
}

/** Seals like an earlier deployment whose newest key was `key`. */
function sealedWith(key: Buffer, redisKey: string, field: string, json: string): string {
  return contextWith([key]).context.sealing.sealValue(redisKey, field, json)!;
}

beforeEach(() => jest.spyOn(Date, 'now').mockReturnValue(NOW));
afterEach(() => jest.restoreAllMocks());

describe('resealSessions', () => {
  it('rewrites each value sealed under an older key, expecting the exact string read and moving no expiry; leaves the rest alone', async () => {
    const s = setup();
    const redisKey = 'app:one';
    const oldCart = sealedWith(OLD_KEY, redisKey, 'cart', '[1,2]');
    const oldAgent = sealedWith(OLD_KEY, redisKey, FIELD.userAgent, '"Firefox"');
    const fresh = sealedWith(NEW_KEY, redisKey, 'user', '{"id":"u1"}');
    s.held.set(redisKey, { [FIELD.createdAt]: '1', [FIELD.expiresAt]: '2', cart: oldCart, user: fresh, [FIELD.userAgent]: oldAgent });
    expect(await resealSessions(s.core)).toEqual({ sessions: 1, resealed: 2, changed: 0, unopenable: 0 });
    expect(s.writes.map(({ field, expected, expiresAt, now }) => ({ field, expected, expiresAt, now }))).toEqual([
      { field: 'cart', expected: oldCart, expiresAt: 0, now: NOW },
      { field: FIELD.userAgent, expected: oldAgent, expiresAt: 0, now: NOW },
    ]);
    for (const write of s.writes) expect(write.redisKey).toBe(redisKey);
    expect(s.context.sealing.sealer!.isStale(s.writes[0].next!)).toBe(false);
    expect(s.context.sealing.openValue(redisKey, 'cart', s.writes[0].next)).toBe('[1,2]');
    expect(s.context.sealing.openValue(redisKey, FIELD.userAgent, s.writes[1].next)).toBe('"Firefox"');
  });

  it('seals plaintext let in by acceptPlaintext', async () => {
    const s = setup({ acceptPlaintext: true });
    s.held.set('app:one', { [FIELD.createdAt]: '1', cart: '[3]' });
    expect(await resealSessions(s.core)).toMatchObject({ sessions: 1, resealed: 1 });
    expect(s.writes[0]).toMatchObject({ field: 'cart', expected: '[3]' });
    expect(s.context.sealing.openValue('app:one', 'cart', s.writes[0].next)).toBe('[3]');
  });

  it("counts a value a request changed meanwhile, keeping the request's write, and stops at a session destroyed meanwhile", async () => {
    const s = setup({ cas: ({ field }) => (field === 'a' ? { status: 'changed', current: 'theirs' } : { status: 'gone' }) });
    s.held.set('app:one', {
      [FIELD.createdAt]: '1',
      a: sealedWith(OLD_KEY, 'app:one', 'a', '1'),
      b: sealedWith(OLD_KEY, 'app:one', 'b', '2'),
      c: sealedWith(OLD_KEY, 'app:one', 'c', '3'),
    });
    expect(await resealSessions(s.core)).toEqual({ sessions: 1, resealed: 0, changed: 1, unopenable: 0 });
    expect(s.writes.map((write) => write.field)).toEqual(['a', 'b']); // nothing sent after 'gone'
  });

  it("leaves a value no key opens as it is, logged and its session counted, and reseals the session's others", async () => {
    const s = setup();
    s.held.set('app:one', {
      [FIELD.createdAt]: '1',
      a: sealedWith(OLD_KEY, 'app:one', 'a', '1'),
      b: sealedWith(Buffer.alloc(32, 5), 'app:one', 'b', '2'), // a key the options no longer hold
    });
    expect(await resealSessions(s.core)).toEqual({ sessions: 1, resealed: 1, changed: 0, unopenable: 1 });
    expect(s.writes.map((write) => write.field)).toEqual(['a']);
    expect(s.logger.warn).toHaveBeenCalledWith(expect.stringContaining('field "b" is sealed with a key not in "encryption.keys"'));
  });

  it('skips what is not a live session: a missing key, another type, a renewed ID and a tombstone', async () => {
    const s = setup();
    const stale = sealedWith(OLD_KEY, 'app:x', 'a', '1');
    s.held.set('app:wrong', 'wrongType');
    s.held.set('app:renewed', { [FIELD.successor]: 'sealed', a: stale });
    s.held.set('app:ended', { [FIELD.ended]: '1', a: stale });
    s.core.admin.digests = () => Promise.resolve(['gone', 'wrong', 'renewed', 'ended']);
    expect(await resealSessions(s.core)).toEqual({ sessions: 0, resealed: 0, changed: 0, unopenable: 0 });
    expect(s.gateway.readSession.mock.calls).toEqual([['app:gone'], ['app:wrong'], ['app:renewed'], ['app:ended']]);
  });

  it('lets an error that is not about opening through', async () => {
    const s = setup();
    s.held.set('app:one', { [FIELD.createdAt]: '1', a: sealedWith(OLD_KEY, 'app:one', 'a', '1') });
    const bug = new TypeError('a bug in the sealer');
    jest.spyOn(s.context.sealing.sealer!, 'open').mockImplementation(() => {
      throw bug;
    });
    await expect(resealSessions(s.core)).rejects.toBe(bug);
  });

  it('works through the sessions sixteen at a time', async () => {
    const s = setup();
    const digests = Array.from({ length: 20 }, (_, i) => `d${i}`);
    s.core.admin.digests = () => Promise.resolve(digests);
    const reads: (() => void)[] = [];
    s.gateway.readSession.mockImplementation(() => new Promise((resolve) => reads.push(() => resolve(null))));
    const resealing = resealSessions(s.core);
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    await settle();
    expect(reads).toHaveLength(16);
    reads.slice(0, 15).forEach((read) => read());
    await settle();
    expect(reads).toHaveLength(16); // the batch waits for its slowest
    reads[15]();
    await settle();
    expect(reads).toHaveLength(20);
    reads.slice(16).forEach((read) => read());
    await resealing;
  });
});
