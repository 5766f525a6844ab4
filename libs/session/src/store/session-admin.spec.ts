import { resolveStoreOptions } from '../options/resolve-store-options';
import { FIELD } from '../redis/session-fields';
import type { StoredFields } from '../redis/session-gateway';
import { SessionObservers } from '../redis/session-observer';
import { SessionAdmin } from './session-admin';
import { SessionContext } from './session-context';
import type { SessionForwarding } from './session-forwarding';

/*
 * Ending sessions and the operations over every session (session-admin.ts) over a fake gateway: what
 * each tells the observers, which keys `all` and `digests` leave out, and the SCAN patterns they send.
 */

const NOW = 1_800_000_000_000;

function setup(options: { prefix?: string; renewal?: boolean; encryption?: boolean; deleted?: number; lastId?: string } = {}) {
  const held = new Map<string, StoredFields | 'wrongType'>();
  const marks = new Map<string, 'session' | 'renewed' | 'ended'>();
  const scans: [string, string | undefined][] = [];
  const gateway = {
    scanKeys: jest.fn((pattern: string, type?: string) => {
      scans.push([pattern, type]);
      return Promise.resolve(type === 'hash' ? [...held.keys(), ...marks.keys()] : ['every', 'key']);
    }),
    readSession: jest.fn((redisKey: string) => Promise.resolve(held.get(redisKey) ?? null)),
    readRenewalMarks: jest.fn((redisKey: string) => Promise.resolve(marks.get(redisKey) ?? 'session')),
    deleteKey: jest.fn(() => Promise.resolve(1)),
    // Runs the operation as the gateway does without `durability`; records that it was asked to.
    durably: jest.fn(<T>(operation: () => Promise<T>) => operation()),
  };
  const observer = { sessionEnded: jest.fn(), sessionEvent: jest.fn() };
  const observers = new SessionObservers();
  observers.add(observer);
  const logger = { warn: jest.fn(), error: jest.fn() };
  const resolved = resolveStoreOptions({
    client: { defineCommand: () => undefined } as never,
    prefix: options.prefix ?? 'app:',
    absoluteTimeout: 60 * 60_000,
    encryption: options.encryption ? { keys: [Buffer.alloc(32, 1)] } : undefined,
  });
  const renewal = options.renewal ? { interval: 60_000, grace: 5_000 } : undefined;
  const context = new SessionContext({ ...resolved, renewal }, gateway as never, observers, logger);
  const forwarding = { destroy: jest.fn((id: string) => Promise.resolve({ deleted: options.deleted ?? 1, lastId: options.lastId ?? id })) };
  const admin = new SessionAdmin(context, forwarding as unknown as SessionForwarding);
  return { admin, context, gateway, held, marks, scans, observer, logger, forwarding };
}

/** A session's fields as the write scripts leave them: created at `createdAt`, with `data` as JSON. */
function fields(data: Record<string, unknown>, createdAt = NOW - 60_000): StoredFields {
  const stored: StoredFields = { [FIELD.createdAt]: String(createdAt), [FIELD.expiresAt]: String(NOW + 60_000) };
  for (const [key, value] of Object.entries(data)) stored[key] = JSON.stringify(value);
  return stored;
}

beforeEach(() => jest.spyOn(Date, 'now').mockReturnValue(NOW));
afterEach(() => jest.restoreAllMocks());

describe('SessionAdmin.destroy', () => {
  it('ends the session through the forwarding (a renewed one and its successor), telling the observers its reason and event', async () => {
    const s = setup({ deleted: 2 });
    expect(await s.admin.destroy('the-id', 'revoked', { type: 'logout', userId: 'u1' })).toBe(true);
    expect(s.forwarding.destroy).toHaveBeenCalledWith('the-id', false);
    expect(s.gateway.durably).toHaveBeenCalledTimes(1); // a write security depends on, however it is asked for
    expect(s.observer.sessionEnded).toHaveBeenCalledWith('revoked', 2);
    expect(s.observer.sessionEvent).toHaveBeenCalledWith({ type: 'logout', digest: s.context.digestOfKey(s.context.redisKeyOf('the-id')), userId: 'u1' });
  });

  it("counts a logout and tells 'destroyed' by default", async () => {
    const s = setup();
    await s.admin.destroy('the-id');
    expect(s.observer.sessionEnded).toHaveBeenCalledWith('logout', 1);
    expect(s.observer.sessionEvent).toHaveBeenCalledWith(expect.objectContaining({ type: 'destroyed', userId: undefined }));
  });

  it('tells no event for a regenerate, which counts all the same', async () => {
    const s = setup();
    await s.admin.destroy('the-id', 'regenerated');
    expect(s.observer.sessionEnded).toHaveBeenCalledWith('regenerated', 1);
    expect(s.observer.sessionEvent).not.toHaveBeenCalled();
  });

  it("answers a regenerate the ID whose session ended (a renewal's successor), marked moving when asked, or undefined", async () => {
    const s = setup({ lastId: 'the-successor' });
    expect(await s.admin.destroyRegenerated('the-id', true)).toBe('the-successor');
    expect(s.forwarding.destroy).toHaveBeenCalledWith('the-id', true);
    expect(s.observer.sessionEnded).toHaveBeenCalledWith('regenerated', 1);
    expect(s.observer.sessionEvent).not.toHaveBeenCalled();
    expect(await setup({ deleted: 0 }).admin.destroyRegenerated('the-id', false)).toBeUndefined();
  });

  it('answers false, telling nobody, when there was nothing to delete', async () => {
    const s = setup({ deleted: 0 });
    expect(await s.admin.destroy('the-id')).toBe(false);
    expect(s.observer.sessionEnded).not.toHaveBeenCalled();
    expect(s.observer.sessionEvent).not.toHaveBeenCalled();
  });
});

describe('SessionAdmin.all', () => {
  it('lists the live sessions by digest, leaving out the missing, the wrong type, the past deadline, renewed and ended keys', async () => {
    const s = setup();
    s.held.set('app:live', fields({ cart: [1, 2] }));
    s.held.set('app:wrong', 'wrongType');
    s.held.set('app:old', fields({ cart: [3] }, NOW - 60 * 60_000)); // exactly at the absolute deadline
    s.held.set('app:renewed', { ...fields({ cart: [4] }), [FIELD.successor]: 'sealed' });
    s.held.set('app:ended', { ...fields({}), [FIELD.ended]: '1' });
    s.gateway.scanKeys.mockResolvedValueOnce(['app:live', 'app:wrong', 'app:old', 'app:renewed', 'app:ended', 'app:gone']);
    const all = await s.admin.all();
    expect(Object.keys(all)).toEqual(['live']);
    expect(all.live.cart).toEqual([1, 2]);
    expect(s.gateway.scanKeys.mock.calls).toEqual([['app:*', 'hash']]);
    expect(s.logger.warn).not.toHaveBeenCalled();
  });

  it('leaves out a corrupt session and one that does not open, logging each, and lets any other error through', async () => {
    const s = setup({ encryption: true });
    s.held.set('app:corrupt', { [FIELD.expiresAt]: '1' }); // no creation time
    s.held.set('app:sealed', { ...fields({}), cart: '~not-a-sealed-value-of-this-key-at-all-aaaaaaaaaaaaaaaaaaa' });
    expect(await s.admin.all()).toEqual({});
    expect(s.logger.warn.mock.calls).toEqual([
      [expect.stringContaining('Ignoring corrupt session corrupt… in Redis (field ":c" is missing or not a number)')],
      [expect.stringContaining('Ignoring session sealed… in Redis: field "cart"')],
    ]);
    const bug = new TypeError('a bug in the codec');
    jest.spyOn(s.context.sealing.sealer!, 'open').mockImplementation(() => {
      throw bug;
    });
    s.held.clear();
    s.held.set('app:sealed', { ...fields({}), cart: s.context.sealing.sealValue('app:sealed', 'cart', '[1]')! });
    await expect(s.admin.all()).rejects.toBe(bug);
  });
});

describe('SessionAdmin.digests', () => {
  it.each([false, true])("leaves out renewed sessions' old keys and tombstones (renewal: %s; a regenerate leaves a tombstone either way)", async (renewal) => {
    const s = setup({ renewal });
    s.held.set('app:a', fields({}));
    s.marks.set('app:b', 'renewed');
    s.marks.set('app:c', 'ended');
    s.marks.set('app:d', 'session');
    expect(await s.admin.digests()).toEqual(['a', 'd']);
  });
});

describe('SessionAdmin.clear', () => {
  it('deletes every key under the prefix, whatever its type, the prefix taken literally in the pattern', async () => {
    const s = setup({ prefix: 'a*b?[c]\\:' });
    await s.admin.clear();
    expect(s.scans).toEqual([['a\\*b\\?\\[c\\]\\\\:*', undefined]]);
    expect(s.gateway.deleteKey.mock.calls).toEqual([['every'], ['key']]);
  });
});
