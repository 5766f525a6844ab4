import { FieldSealer, type Sealing } from './field-sealer';
import { countedLength, exactAppLength, isLeftSealed } from './left-sealed';
import { UnopenableSessionError, cookieSettingsJson, decodeSession, diffSession } from './session-codec';
import { attachState } from './session-state';
import { putTrackedValues } from './tracked-values';

const CREATED = 1_700_000_000_000;
const cookie = { originalMaxAge: null, httpOnly: true, path: '/' };
const cookieJson = cookieSettingsJson(cookie)!;
const sealer = new FieldSealer({ keys: [Buffer.alloc(32, 9)], acceptPlaintext: false });
const sealing: Sealing = { sealer, redisKey: 'sess:left' };
const REAL_OPEN = FieldSealer.prototype.open;

const VALUES: Record<string, string> = {
  user: '{"id":"u1","name":"Ada"}',
  cart: '["tea","cup"]',
  csrfToken: '"t0k3n"',
  views: '7',
  note: '"thé à l’anglaise, 🍵"',
};

/** What Redis holds for a session with VALUES, sealed for `redisKey`. */
function heldFor(redisKey: string, values = VALUES): Record<string, string> {
  const held: Record<string, string> = { ':c': String(CREATED), ':k': cookieJson };
  for (const [key, json] of Object.entries(values)) held[key] = sealer.seal(redisKey, key, json);
  return held;
}

/** A request's read of `held`, as the request gets it, with every open and every report counted. */
function readOnRequest(held: Record<string, string>) {
  const reported: { key: string; reason?: string }[] = [];
  const reporter = {
    ignoreCorruptKey: (_redisKey: string | undefined, key: string) => void reported.push({ key }),
    ignoreUnopenableKey: (_redisKey: string, key: string, reason: string) => void reported.push({ key, reason }),
  };
  const opened: string[] = [];
  const open = jest.spyOn(sealer, 'open').mockImplementation(function (this: FieldSealer, ...args) {
    opened.push(args[1]);
    return REAL_OPEN.apply(this, args);
  });
  const { data, state } = decodeSession(held, undefined, CREATED, sealing, reporter);
  const session: Record<string, unknown> = {};
  attachState(session, state);
  putTrackedValues(session, data, state);
  session.cookie = data.cookie;
  return { session, state, opened, reported, restore: () => open.mockRestore() };
}

describe('values a request leaves sealed until it reaches them (encryption)', () => {
  let restore: (() => void) | undefined;
  afterEach(() => restore?.());

  it('opens no value on the read, and each one the first time something reaches it, once', () => {
    const held = heldFor(sealing.redisKey);
    const read = readOnRequest(held);
    restore = read.restore;
    expect(read.opened).toEqual([]);
    for (const key of Object.keys(VALUES)) expect(read.state.stored!.get(key)).toBe(held[key]);

    expect(read.session.cart).toEqual(['tea', 'cup']);
    expect(read.session.views).toBe(7); // a primitive too
    expect(read.session.cart).toEqual(['tea', 'cup']);
    expect(read.opened).toEqual(['cart', 'views']);
    // The plaintext takes the sealed string's place; the sealed string stays what compare-and-set expects.
    expect(read.state.stored!.get('cart')).toBe(VALUES.cart);
    expect(read.state.held!.get('cart')).toBe(held.cart);
    expect(read.state.stored!.get('user')).toBe(held.user);
  });

  it('writes only what changed, sealed once, and keeps every value nothing reached as Redis holds it, unopened', () => {
    const held = heldFor(sealing.redisKey);
    const read = readOnRequest(held);
    restore = read.restore;
    (read.session.cart as string[]).push('pot');
    read.session.views = 8;
    const delta = diffSession(read.session, read.state, undefined, sealing);
    expect(read.opened).toEqual(['cart']); // a value assigned is never opened
    expect(delta.set.filter((_, i) => i % 2 === 0)).toEqual(['cart', 'views']);
    expect(sealer.open(sealing.redisKey, 'cart', delta.set[1])).toBe('["tea","cup","pot"]');
    expect(sealer.open(sealing.redisKey, 'views', delta.set[3])).toBe('8');
    expect(delta.del).toEqual([]);
    for (const key of ['user', 'csrfToken', 'note']) {
      expect(delta.next.get(key)).toBe(held[key]);
      expect(delta.held!.get(key)).toBe(held[key]);
    }
    // A request that only read writes nothing, the values it never reached still unopened.
    const again = readOnRequest(held);
    again.restore();
    expect(again.session.user).toMatchObject({ name: 'Ada' });
    expect(diffSession(again.session, again.state, undefined, sealing)).toMatchObject({ set: [], del: [] });
  });

  it('does not write a value again when it is first reached after a save the request made (SessionService.save)', () => {
    const read = readOnRequest(heldFor(sealing.redisKey));
    restore = read.restore;
    (read.session.cart as string[]).push('pot');
    const saved = diffSession(read.session, read.state, undefined, sealing);
    read.state.stored = saved.next; // what the writer keeps once the save is written
    read.state.held = saved.held;
    expect(read.session.user).toMatchObject({ name: 'Ada' }); // opened through the map the request read
    expect(read.state.stored.get('user')).toBe(VALUES.user);
    expect(diffSession(read.session, read.state, undefined, sealing)).toMatchObject({ set: [], del: [] });
  });

  it('opens every value nothing reached when the session is written under a new ID, and seals each for that ID only once', () => {
    const held = heldFor(sealing.redisKey);
    const read = readOnRequest(held);
    restore = read.restore;
    read.state.stored = null; // what the writer does when the same session is saved under another ID
    read.state.held = undefined;
    const moved: Sealing = { sealer, redisKey: 'sess:new-id' };
    const delta = diffSession(read.session, read.state, undefined, moved);
    expect(read.opened.sort()).toEqual(Object.keys(VALUES).sort());
    const written: Record<string, string> = {};
    for (let i = 0; i < delta.set.length; i += 2) written[delta.set[i]] = delta.set[i + 1];
    for (const [key, json] of Object.entries(VALUES)) {
      expect(isLeftSealed(written[key])).toBe(true);
      expect(sealer.open(moved.redisKey, key, written[key])).toBe(json); // sealed once, for the new ID
      expect(() => sealer.open(sealing.redisKey, key, written[key])).toThrow(); // not the old string
    }
  });

  it('reads a value that does not open as absent, reports why naming the option, and keeps it in Redis', () => {
    const held = heldFor(sealing.redisKey);
    const stolen = heldFor('sess:someone-else');
    const read = readOnRequest({ ...held, user: stolen.user }); // copied from another session
    restore = read.restore;
    expect(read.session.user).toBeUndefined();
    expect(read.session.cart).toEqual(['tea', 'cup']);
    expect(read.reported).toEqual([{ key: 'user', reason: expect.stringMatching(/"user" does not authenticate/) }]);
    (read.session.cart as string[]).push('pot');
    const delta = diffSession(read.session, read.state, undefined, sealing);
    expect(delta.set.filter((_, i) => i % 2 === 0)).toEqual(['cart']);
    expect(delta.del).toEqual([]);
    expect(delta.held!.get('user')).toBe(stolen.user);
  });

  it('counts a value left sealed by its plaintext bytes without opening it, and exactly once opened', () => {
    const held = heldFor(sealing.redisKey);
    const read = readOnRequest(held);
    restore = read.restore;
    for (const [key, json] of Object.entries(VALUES)) expect(countedLength(held[key])).toBe(Buffer.byteLength(json));
    expect(countedLength(VALUES.cart)).toBe(VALUES.cart.length);
    const delta = diffSession(read.session, read.state, undefined, sealing);
    const exact = Object.entries(VALUES).reduce((sum, [key, json]) => sum + key.length + json.length, 0);
    const bound = Object.entries(VALUES).reduce((sum, [key, json]) => sum + key.length + Buffer.byteLength(json), 0);
    expect(bound).toBeGreaterThan(exact); // the note is not ASCII
    expect(delta.bytes).toBe(bound);
    expect(read.opened).toEqual([]);
    expect(exactAppLength(delta.next, read.state)).toBe(exact);
    expect(exactAppLength(delta.next, read.state, 'note')).toBe(exact - 'note'.length - VALUES.note.length);
    expect(read.opened.sort()).toEqual(Object.keys(VALUES).sort());
  });

  it.each([
    [
      'sealed under a key the options lack',
      () => new FieldSealer({ keys: [Buffer.alloc(32, 1)], acceptPlaintext: false }).seal(sealing.redisKey, 'cart', '[]'),
      /key not in "encryption.keys"/,
    ],
    ['too short to be sealed', () => '~AAAA', /too short/],
  ])('still makes the whole session absent, opening nothing, for a value %s', (_what, value, message) => {
    const held = { ...heldFor(sealing.redisKey), cart: value() };
    const open = jest.spyOn(sealer, 'open');
    restore = () => open.mockRestore();
    const reporter = { ignoreCorruptKey: () => undefined, ignoreUnopenableKey: () => undefined };
    expect(() => decodeSession(held, undefined, CREATED, sealing, reporter)).toThrow(UnopenableSessionError);
    expect(() => decodeSession(held, undefined, CREATED, sealing, reporter)).toThrow(message);
    expect(open).not.toHaveBeenCalled();
  });

  it('reports a sealed value in a session not read under encryption, and reads it as absent', () => {
    const reported: string[] = [];
    const held = heldFor(sealing.redisKey);
    const { data, state } = decodeSession(held, undefined, CREATED, undefined, {
      ignoreCorruptKey: (_redisKey, key) => void reported.push(key),
      ignoreUnopenableKey: () => undefined,
    });
    expect((data as Record<string, unknown>).cart).toBeUndefined();
    expect(reported).toEqual(['cart']);
    expect(state.stored!.get('cart')).toBe(held.cart);
  });
});
