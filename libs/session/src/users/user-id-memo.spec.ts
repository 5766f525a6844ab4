import type { SessionUserId } from '../options/session-options.interface';
import { FieldSealer, type Sealing } from '../store/field-sealer';
import { cookieSettingsJson, decodeSession } from '../store/session-codec';
import { UNPARSED, attachState, stateOf, type SessionState } from '../store/session-state';
import { putTrackedValues } from '../store/tracked-values';
import { defaultSessionUserId } from './user-id';
import { UserIdMemo } from './user-id-memo';

const CREATED = 1_700_000_000_000;
const cookieJson = cookieSettingsJson({ originalMaxAge: null, httpOnly: true, path: '/' })!;
const reporter = { ignoreCorruptKey: () => undefined, ignoreUnopenableKey: () => undefined };
const USER = '{"id":"u-1","name":"Ada"}';

/** A lazy read of these fields: its data as the reader has it, before anything uses it. */
function read(fields: Record<string, string>, sealing?: Sealing) {
  const { data, state } = decodeSession({ ...fields, ':c': String(CREATED), ':k': cookieJson }, undefined, CREATED, sealing, reporter);
  return { data: data as Record<string, unknown>, state };
}

/** The same read, put on the request's session as the lifecycle does. */
function onRequest({ data, state }: { data: Record<string, unknown>; state: SessionState }): Record<string, unknown> {
  const session: Record<string, unknown> = {};
  attachState(session, state);
  putTrackedValues(session, data, state);
  return session;
}

/** The default `users.id`, counting its calls. */
function counting(userId: SessionUserId = defaultSessionUserId) {
  let calls = 0;
  const counted: SessionUserId = (session) => (calls++, userId(session));
  return { counted, calls: () => calls };
}

describe('UserIdMemo: a session user id remembered with the strings it came from', () => {
  it('computes the id once, then gives it again without parsing the user while Redis holds the same string', () => {
    const id = counting();
    const memo = new UserIdMemo(id.counted);
    const first = read({ user: USER, cart: '["tea"]' });
    expect(memo.userIdOf(first.data, first.state, 'd1', true)).toBe('u-1');
    const second = read({ user: USER, cart: '["tea","cup"]' }); // another key changed: not read by the function
    expect(memo.userIdOf(second.data, second.state, 'd1', true)).toBe('u-1');
    expect(id.calls()).toBe(1);
    expect(second.state.lazy!.get('user')).toBe(UNPARSED);
    // At the save, the same: the request never reached the user.
    const session = onRequest(second);
    expect(memo.userIdOf(session, second.state, 'd1', false)).toBe('u-1');
    expect(id.calls()).toBe(1);
  });

  it('under encryption, remembers the sealed string, not the plaintext its first read opened: the save and the next request hit', () => {
    const sealer = new FieldSealer({ keys: [Buffer.alloc(32, 5)], acceptPlaintext: false });
    const sealing: Sealing = { sealer, redisKey: 'sess:d10' };
    const sealedUser = sealer.seal(sealing.redisKey, 'user', USER);
    const id = counting();
    const memo = new UserIdMemo(id.counted);
    const open = jest.spyOn(sealer, 'open');
    try {
      const first = read({ user: sealedUser }, sealing);
      expect(memo.userIdOf(first.data, first.state, 'd10', true)).toBe('u-1'); // opens the user
      expect(memo.userIdOf(onRequest(first), first.state, 'd10', false)).toBe('u-1'); // its save
      const next = read({ user: sealedUser }, sealing);
      expect(memo.userIdOf(next.data, next.state, 'd10', true)).toBe('u-1');
      expect(memo.userIdOf(onRequest(next), next.state, 'd10', false)).toBe('u-1');
      expect(id.calls()).toBe(1);
      expect(open).toHaveBeenCalledTimes(1);
      // A request that logs another user in: the sealed string Redis holds is no longer the session's.
      const third = read({ user: sealedUser }, sealing);
      const session = onRequest(third);
      session.user = { id: 'u-2' };
      expect(memo.userIdOf(session, third.state, 'd10', false)).toBe('u-2');
    } finally {
      open.mockRestore();
    }
  });

  it('under encryption, gives it again without opening the user', () => {
    const sealer = new FieldSealer({ keys: [Buffer.alloc(32, 3)], acceptPlaintext: false });
    const sealing: Sealing = { sealer, redisKey: 'sess:d2' };
    const sealedUser = sealer.seal(sealing.redisKey, 'user', USER);
    const memo = new UserIdMemo(defaultSessionUserId);
    const first = read({ user: sealedUser }, sealing);
    expect(memo.userIdOf(first.data, first.state, 'd2', true)).toBe('u-1');
    const open = jest.spyOn(sealer, 'open');
    try {
      const again = read({ user: sealedUser }, sealing);
      expect(memo.userIdOf(again.data, again.state, 'd2', true)).toBe('u-1');
      expect(memo.userIdOf(onRequest(again), again.state, 'd2', false)).toBe('u-1');
      expect(open).not.toHaveBeenCalled();
      // A function that reads the user twice notes the string it found first, before the read opened it.
      const twice = new UserIdMemo((session) => session.user && (session.user as { id: string }).id);
      const once = read({ user: sealedUser }, sealing);
      expect(twice.userIdOf(once.data, once.state, 'd2', true)).toBe('u-1');
      open.mockClear();
      const next = read({ user: sealedUser }, sealing);
      expect(twice.userIdOf(next.data, next.state, 'd2', true)).toBe('u-1');
      expect(open).not.toHaveBeenCalled();
      // Sealed again (a save of the same user): another string, so the id is computed again.
      const resealed = read({ user: sealer.seal(sealing.redisKey, 'user', USER) }, sealing);
      expect(memo.userIdOf(resealed.data, resealed.state, 'd2', true)).toBe('u-1');
      expect(open).toHaveBeenCalledTimes(1);
    } finally {
      open.mockRestore();
    }
  });

  it('computes it again when the user in Redis changed, or the request reached, assigned or deleted it', () => {
    const id = counting();
    const memo = new UserIdMemo(id.counted);
    const first = read({ user: USER });
    expect(memo.userIdOf(first.data, first.state, 'd3', true)).toBe('u-1');
    const other = read({ user: '{"id":"u-2"}' });
    expect(memo.userIdOf(other.data, other.state, 'd3', true)).toBe('u-2');
    expect(id.calls()).toBe(2);

    const reached = read({ user: '{"id":"u-2"}' });
    const session = onRequest(reached);
    (session.user as { id: string }).id = 'u-3'; // changed in place through a read
    expect(memo.userIdOf(session, reached.state, 'd3', false)).toBe('u-3');
    const assigned = onRequest(read({ user: '{"id":"u-2"}' }));
    assigned.user = { id: 'u-4' };
    expect(memo.userIdOf(assigned, stateOf(assigned), 'd3', false)).toBe('u-4');
    const deleted = onRequest(read({ user: '{"id":"u-2"}' }));
    delete deleted.user;
    expect(memo.userIdOf(deleted, stateOf(deleted), 'd3', false)).toBeUndefined();
    expect(id.calls()).toBe(5);
  });

  it('remembers a key the function read and did not find, and computes again once it is there', () => {
    const id = counting();
    const memo = new UserIdMemo(id.counted);
    const anonymous = read({ cart: '[]' });
    expect(memo.userIdOf(anonymous.data, anonymous.state, 'd4', true)).toBeUndefined();
    const still = read({ cart: '["tea"]' });
    expect(memo.userIdOf(still.data, still.state, 'd4', true)).toBeUndefined();
    expect(id.calls()).toBe(1);
    const passport = read({ cart: '[]', passport: '{"user":"p-9"}' }); // the default's second place to look
    expect(memo.userIdOf(passport.data, passport.state, 'd4', true)).toBe('p-9');
    expect(id.calls()).toBe(2);
  });

  it('keeps each session to its own: another digest is computed on its own', () => {
    const id = counting();
    const memo = new UserIdMemo(id.counted);
    const a = read({ user: USER });
    memo.userIdOf(a.data, a.state, 'd5', true);
    const b = read({ user: USER });
    expect(memo.userIdOf(b.data, b.state, 'd6', true)).toBe('u-1');
    expect(id.calls()).toBe(2);
  });

  it('never remembers what it cannot tell unchanged: the keys listed, a primitive on the request session, no state', () => {
    // Answers from the key names alone: a key added later must count.
    const listing = counting((session) => (Object.getOwnPropertyNames(session).includes('admin') ? 'root' : undefined));
    const memo = new UserIdMemo(listing.counted);
    const before = read({ cart: '[]' });
    expect(memo.userIdOf(before.data, before.state, 'd7', true)).toBeUndefined();
    const after = read({ cart: '[]', admin: 'true' });
    expect(memo.userIdOf(after.data, after.state, 'd7', true)).toBe('root');
    expect(listing.calls()).toBe(2);
    // The same through `in`: the key is noted as absent, then found.
    const asking = counting((session) => ('admin' in session ? 'root' : undefined));
    const memoIn = new UserIdMemo(asking.counted);
    expect(memoIn.userIdOf(before.data, before.state, 'd7', true)).toBeUndefined();
    expect(memoIn.userIdOf(after.data, after.state, 'd7', true)).toBe('root');
    expect(asking.calls()).toBe(2);

    const primitive = counting((session) => (session as { uid?: string }).uid);
    const memo2 = new UserIdMemo(primitive.counted);
    for (let i = 0; i < 2; i++) {
      const fresh = read({ uid: '"u-8"' });
      expect(memo2.userIdOf(onRequest(fresh), fresh.state, 'd8', false)).toBe('u-8'); // a plain property: may have changed
    }
    expect(memo2.userIdOf({ uid: 'u-8' }, undefined, 'd8', false)).toBe('u-8');
    expect(primitive.calls()).toBe(3);
  });

  it('notes a key asked about with hasOwnProperty as read: remembered while absent, computed again once it is there', () => {
    const owns = (session: object, key: string): boolean => Object.prototype.hasOwnProperty.call(session, key);
    const id = counting((session) => (owns(session, 'admin') ? 'root' : owns(session, 'user') ? 'member' : undefined));
    const memo = new UserIdMemo(id.counted);
    const member = read({ user: USER, cart: '[]' });
    expect(memo.userIdOf(member.data, member.state, 'd11', true)).toBe('member');
    const again = read({ user: USER, cart: '["tea"]' });
    expect(memo.userIdOf(again.data, again.state, 'd11', true)).toBe('member');
    expect(id.calls()).toBe(1);
    expect(again.state.lazy!.get('user')).toBe(UNPARSED); // its descriptor, not its value: nothing parsed
    const promoted = read({ user: USER, admin: 'true' });
    expect(memo.userIdOf(promoted.data, promoted.state, 'd11', true)).toBe('root');
    expect(id.calls()).toBe(2);
  });

  it('notes a key once, at its first read: a function reading the user twice on the request session still has its id remembered', () => {
    // Outside the store's untracked read, the function's first read marks the user reached; the
    // string noted before that read is the one Redis holds, and the second read must not undo it.
    const id = counting((session) => session.user && (session.user as { id: string }).id);
    const memo = new UserIdMemo(id.counted);
    const first = read({ user: USER });
    expect(memo.userIdOf(onRequest(first), first.state, 'd12', false)).toBe('u-1');
    const next = read({ user: USER });
    expect(memo.userIdOf(onRequest(next), next.state, 'd12', false)).toBe('u-1');
    expect(id.calls()).toBe(1);
  });

  it('passes an answer the option refuses through as its error, and remembers nothing of it', () => {
    let calls = 0;
    const memo = new UserIdMemo(() => (calls++ === 0 ? {} : 'u-1') as never);
    const { data, state } = read({ user: USER });
    expect(() => memo.userIdOf(data, state, 'd9', true)).toThrow(/users.id/);
    expect(memo.userIdOf(data, state, 'd9', true)).toBe('u-1');
  });

  it('remembers at most 10,000 sessions, forgetting the oldest first', () => {
    const id = counting();
    const memo = new UserIdMemo(id.counted);
    const { data, state } = read({ user: USER });
    for (let i = 0; i <= 10_000; i++) memo.userIdOf(data, state, `digest-${i}`, true);
    expect(id.calls()).toBe(10_001);
    memo.userIdOf(data, state, 'digest-10000', true);
    memo.userIdOf(data, state, 'digest-1', true);
    expect(id.calls()).toBe(10_001);
    memo.userIdOf(data, state, 'digest-0', true); // forgotten to make room for the last
    expect(id.calls()).toBe(10_002);
  });
});
