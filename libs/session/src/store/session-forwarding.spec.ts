import { resolveStoreOptions } from '../options/resolve-store-options';
import { FIELD } from '../redis/session-fields';
import type { StoredFields } from '../redis/session-gateway';
import type { PlantArgs, PlantStatus } from '../redis/renewal-scripts';
import { SessionObservers } from '../redis/session-observer';
import { UnopenableSessionError } from './session-codec';
import { SessionContext } from './session-context';
import { MAX_HOPS, SessionForwarding } from './session-forwarding';
import type { UserIndexKeeper } from './store-ports';
import { sealSuccessor } from './successor-seal';

/*
 * A renewed session's forward pointer (session-forwarding.ts) over a fake gateway: finishing a renewal
 * left half-way (plant, index, retire) and each answer that stops it, following and destroying
 * through pointers, and the copy under encryption.
 */

const NOW = 1_800_000_000_000;
const IDLE = 30 * 60_000;

interface Options {
  renewal?: boolean;
  encryption?: boolean;
  keeper?: boolean;
  plant?: PlantStatus;
  retire?: 'retired' | 'gone';
}

function setup(options: Options = {}) {
  const held = new Map<string, StoredFields | 'wrongType'>();
  /** What destroySession answers per key: how many it deleted, and the sealed successor it found. */
  const destroyed = new Map<string, { deleted: number; sealedSuccessor: string | undefined }>();
  const plants: PlantArgs[] = [];
  const gateway = {
    readSession: jest.fn((redisKey: string) => Promise.resolve(held.get(redisKey) ?? null)),
    plantSuccessor: jest.fn((args: PlantArgs) => {
      plants.push(args);
      return Promise.resolve(options.plant ?? 'planted');
    }),
    retireRenewed: jest.fn(() => Promise.resolve(options.retire ?? 'retired')),
    destroySession: jest.fn((redisKey: string) => Promise.resolve(destroyed.get(redisKey) ?? { deleted: 1, sealedSuccessor: undefined })),
  };
  const logger = { warn: jest.fn(), error: jest.fn() };
  const resolved = resolveStoreOptions({
    client: { defineCommand: () => undefined } as never,
    idleTimeout: IDLE,
    prefix: 'app:',
    encryption: options.encryption ? { keys: [Buffer.alloc(32, 9)] } : undefined,
  });
  const renewal = options.renewal ? { interval: 60_000, grace: 7_000 } : undefined;
  const context = new SessionContext({ ...resolved, renewal }, gateway as never, new SessionObservers(), logger);
  const keeper = options.keeper
    ? {
        entryOf: jest.fn((data: Record<string, unknown>, digest: string) => (data.user ? { userId: (data.user as { id: string }).id, digest } : undefined)),
        follow: jest.fn(() => Promise.resolve()),
      }
    : undefined;
  const forwarding = new SessionForwarding(context, keeper as unknown as UserIndexKeeper | undefined);
  const key = (id: string) => context.redisKeyOf(id);
  const digest = (id: string) => context.digestOfKey(key(id));
  return { forwarding, context, gateway, held, destroyed, plants, logger, keeper, key, digest };
}

type Setup = ReturnType<typeof setup>;

/** The old key's session fields, as a claimed renewal left them, with `data` as (sealed, under encryption) JSON. */
function sessionFields(s: Setup, oldId: string, data: Record<string, unknown>, more: StoredFields = {}): StoredFields {
  const fields: StoredFields = { [FIELD.createdAt]: String(NOW - 5_000), [FIELD.expiresAt]: String(NOW + 20 * 60_000), [FIELD.issuedAt]: String(NOW - 70_000) };
  for (const [k, value] of Object.entries(data)) fields[k] = s.context.sealing.sealValue(s.key(oldId), k, JSON.stringify(value))!;
  return { ...fields, ...more };
}

/** The plant's fields as a record. */
function planted(args: PlantArgs): StoredFields {
  const record: StoredFields = {};
  for (let i = 0; i < args.fields.length; i += 2) record[args.fields[i]] = args.fields[i + 1];
  return record;
}

beforeEach(() => jest.spyOn(Date, 'now').mockReturnValue(NOW));
afterEach(() => jest.restoreAllMocks());

describe('SessionForwarding.finish', () => {
  it("plants the session under its successor (never the expiry nor the issue time), moves its user's entry, retires the old key for the grace", async () => {
    const s = setup({ renewal: true, keeper: true });
    const sealed = sealSuccessor('new-id', 'old-id');
    const fields = sessionFields(s, 'old-id', { user: { id: 'u1' }, cart: [1] });
    expect(await s.forwarding.finish('old-id', sealed, fields)).toBe('new-id');
    expect(s.plants).toHaveLength(1);
    expect(s.plants[0]).toMatchObject({ redisKey: s.key('new-id'), expiresAt: NOW + 20 * 60_000, now: NOW });
    expect(planted(s.plants[0])).toEqual({ [FIELD.createdAt]: String(NOW - 5_000), user: '{"id":"u1"}', cart: '[1]' });
    expect(s.keeper!.follow).toHaveBeenCalledWith(
      { userId: 'u1', digest: s.digest('old-id'), createdAt: NOW - 5_000, expiresAt: NOW + 20 * 60_000 },
      s.digest('new-id'),
    );
    expect(s.gateway.retireRenewed).toHaveBeenCalledWith(s.key('old-id'), sealed, 7_000);
    expect(s.gateway.destroySession).not.toHaveBeenCalled();
  });

  it('goes on when the successor exists already (another request planted it), and retires for a minute when this replica has no renewal', async () => {
    const s = setup({ plant: 'exists', keeper: true });
    const sealed = sealSuccessor('new-id', 'old-id');
    expect(await s.forwarding.finish('old-id', sealed, sessionFields(s, 'old-id', { cart: [] }))).toBe('new-id');
    expect(s.keeper!.follow).toHaveBeenCalledWith(undefined, s.digest('new-id')); // no user: no entry to move
    expect(s.gateway.retireRenewed).toHaveBeenCalledWith(s.key('old-id'), sealed, 60_000);
  });

  it('gives a session written before the expiry field the idle window from now', async () => {
    const s = setup();
    const fields = sessionFields(s, 'old-id', {});
    delete fields[FIELD.expiresAt];
    await s.forwarding.finish('old-id', sealSuccessor('new-id', 'old-id'), fields);
    expect(s.plants[0].expiresAt).toBe(NOW + IDLE);
  });

  it('answers the successor of a retired key (the pointer alone) without planting anything', async () => {
    const s = setup();
    expect(await s.forwarding.finish('old-id', sealSuccessor('new-id', 'old-id'), {})).toBe('new-id');
    expect(s.gateway.plantSuccessor).not.toHaveBeenCalled();
  });

  it('takes a pointer that does not open for this ID as corrupt: logged, no successor, nothing sent', async () => {
    const s = setup();
    expect(await s.forwarding.finish('old-id', sealSuccessor('new-id', 'another-id'), sessionFields(s, 'old-id', {}))).toBeUndefined();
    expect(s.logger.warn).toHaveBeenCalledWith(expect.stringContaining(`its "${FIELD.successor}" field does not open`));
    expect(s.gateway.plantSuccessor).not.toHaveBeenCalled();
  });

  it('stops at a successor already past its expiry, touching nothing else', async () => {
    const s = setup({ plant: 'expired', keeper: true });
    expect(await s.forwarding.finish('old-id', sealSuccessor('new-id', 'old-id'), sessionFields(s, 'old-id', {}))).toBeUndefined();
    expect(s.keeper!.follow).not.toHaveBeenCalled();
    expect(s.gateway.retireRenewed).not.toHaveBeenCalled();
    expect(s.gateway.destroySession).not.toHaveBeenCalled();
  });

  it('destroys the old key when the successor was logged out before the plant', async () => {
    const s = setup({ plant: 'ended', keeper: true });
    expect(await s.forwarding.finish('old-id', sealSuccessor('new-id', 'old-id'), sessionFields(s, 'old-id', {}))).toBeUndefined();
    expect(s.gateway.destroySession.mock.calls).toEqual([[s.key('old-id'), 0, false]]);
    expect(s.keeper!.follow).not.toHaveBeenCalled();
    expect(s.gateway.retireRenewed).not.toHaveBeenCalled();
  });

  it('destroys the planted successor when the old key was destroyed meanwhile', async () => {
    const s = setup({ retire: 'gone', renewal: true });
    expect(await s.forwarding.finish('old-id', sealSuccessor('new-id', 'old-id'), sessionFields(s, 'old-id', {}))).toBeUndefined();
    expect(s.gateway.destroySession.mock.calls).toEqual([[s.key('new-id'), 7_000, false]]);
  });

  it('moves no entry for fields that do not decode (the read that follows logs them)', async () => {
    const s = setup({ keeper: true });
    const fields = sessionFields(s, 'old-id', { user: { id: 'u1' } });
    delete fields[FIELD.createdAt];
    expect(await s.forwarding.finish('old-id', sealSuccessor('new-id', 'old-id'), fields)).toBe('new-id');
    expect(s.keeper!.follow).toHaveBeenCalledWith(undefined, s.digest('new-id'));
  });

  describe('under encryption', () => {
    it('seals each value again for the new key: the old seal is bound to the old key', async () => {
      const s = setup({ encryption: true, keeper: true });
      const fields = sessionFields(s, 'old-id', { user: { id: 'u1' }, cart: [1] });
      expect(await s.forwarding.finish('old-id', sealSuccessor('new-id', 'old-id'), fields)).toBe('new-id');
      const copy = planted(s.plants[0]);
      expect(copy[FIELD.createdAt]).toBe(String(NOW - 5_000));
      expect(copy.cart).not.toBe(fields.cart);
      expect(s.context.sealing.openValue(s.key('new-id'), 'cart', copy.cart)).toBe('[1]');
      expect(() => s.context.sealing.openValue(s.key('old-id'), 'cart', copy.cart)).toThrow(UnopenableSessionError);
      expect(s.keeper!.follow).toHaveBeenCalledWith(expect.objectContaining({ userId: 'u1' }), s.digest('new-id'));
    });

    it("carries a value that does not open over as it is (logged), with the user's entry: only that key stays absent", async () => {
      const s = setup({ encryption: true, keeper: true });
      const fields = sessionFields(s, 'old-id', { user: { id: 'u1' }, cart: [1] });
      const copied = (fields.cart = s.context.sealing.sealValue(s.key('elsewhere'), 'cart', '[1]')!);
      expect(await s.forwarding.finish('old-id', sealSuccessor('new-id', 'old-id'), fields)).toBe('new-id');
      expect(s.logger.warn).toHaveBeenCalledWith(expect.stringContaining('does not authenticate'));
      const copy = planted(s.plants[0]);
      expect(copy.cart).toBe(copied);
      expect(s.context.sealing.openValue(s.key('new-id'), 'user', copy.user)).toBe('{"id":"u1"}');
      expect(s.keeper!.follow).toHaveBeenCalledWith(expect.objectContaining({ userId: 'u1' }), s.digest('new-id'));
    });

    it('lets an error that is not about opening through', async () => {
      const s = setup({ encryption: true });
      const bug = new TypeError('a bug in the sealer');
      const fields = sessionFields(s, 'old-id', { cart: [1] });
      jest.spyOn(s.context.sealing.sealer!, 'open').mockImplementation(() => {
        throw bug;
      });
      await expect(s.forwarding.finish('old-id', sealSuccessor('new-id', 'old-id'), fields)).rejects.toBe(bug);
    });
  });
});

describe('SessionForwarding.successorFrom and successorOf', () => {
  it('finishes from the fields a read found, the pointer left out of the copy', async () => {
    const s = setup();
    const sealed = sealSuccessor('new-id', 'old-id');
    expect(await s.forwarding.successorFrom('old-id', sessionFields(s, 'old-id', { cart: [2] }, { [FIELD.successor]: sealed }))).toBe('new-id');
    expect(planted(s.plants[0])).not.toHaveProperty(FIELD.successor);
    expect(s.gateway.retireRenewed).toHaveBeenCalledWith(s.key('old-id'), sealed, 60_000);
  });

  it('reads the old key of a write answered "moved", and follows only a renewed one', async () => {
    const s = setup();
    const sealed = sealSuccessor('new-id', 'old-id');
    expect(await s.forwarding.successorOf('old-id')).toBeUndefined(); // gone
    s.held.set(s.key('old-id'), 'wrongType');
    expect(await s.forwarding.successorOf('old-id')).toBeUndefined();
    s.held.set(s.key('old-id'), sessionFields(s, 'old-id', {}));
    expect(await s.forwarding.successorOf('old-id')).toBeUndefined(); // a session, not renewed
    s.held.set(s.key('old-id'), { [FIELD.successor]: sealed, [FIELD.ended]: '1' });
    expect(await s.forwarding.successorOf('old-id')).toBeUndefined(); // a tombstone
    expect(s.gateway.plantSuccessor).not.toHaveBeenCalled();
    s.held.set(s.key('old-id'), { [FIELD.successor]: sealed });
    expect(await s.forwarding.successorOf('old-id')).toBe('new-id'); // retired: the pointer alone
    s.held.set(s.key('old-id'), sessionFields(s, 'old-id', { cart: [] }, { [FIELD.successor]: sealed }));
    expect(await s.forwarding.successorOf('old-id')).toBe('new-id');
    expect(s.plants).toHaveLength(1);
    expect(planted(s.plants[0])).not.toHaveProperty(FIELD.successor);
  });
});

describe('SessionForwarding.destroy', () => {
  it('destroys a renewed session and its successors, at most MAX_HOPS pointers on, answering what the last key held and its ID', async () => {
    const s = setup({ renewal: true });
    const chain = ['a', 'b', 'c', 'd', 'e', 'f'];
    chain.forEach((id, i) => {
      const next = chain[i + 1];
      s.destroyed.set(s.key(id), { deleted: i === MAX_HOPS ? 5 : 1, sealedSuccessor: next && sealSuccessor(next, id) });
    });
    expect(await s.forwarding.destroy('a')).toEqual({ deleted: 5, lastId: chain[MAX_HOPS] });
    expect(s.gateway.destroySession.mock.calls).toEqual(chain.slice(0, MAX_HOPS + 1).map((id) => [s.key(id), 7_000, false]));
  });

  it('leaves no tombstone without renewal, and stops at a pointer that does not open for the ID', async () => {
    const s = setup();
    s.destroyed.set(s.key('a'), { deleted: 0, sealedSuccessor: sealSuccessor('b', 'not-a') });
    expect(await s.forwarding.destroy('a')).toEqual({ deleted: 0, lastId: 'a' });
    expect(s.gateway.destroySession.mock.calls).toEqual([[s.key('a'), 0, false]]);
  });

  it("marks a regenerate's old key moving, behind a tombstone long enough for its request to save the new ID, renewal or not", async () => {
    const s = setup();
    await s.forwarding.destroy('a', true);
    expect(s.gateway.destroySession.mock.calls).toEqual([[s.key('a'), 300_000, true]]);
  });
});
