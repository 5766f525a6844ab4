import { Cookie as ExpressCookie } from 'express-session';
import { SessionDataError } from '../errors/session-data.error';
import { CorruptSessionError, UnopenableSessionError, cookieSettingsJson, decodeSession, diffSession, toJson, type Sealing } from './session-codec';
import { FieldSealer } from './field-sealer';
import { stateOf, type SessionState } from './session-state';

const CREATED = 1_700_000_000_000;
// express-session's typings hide the constructor its middleware calls with the cookie options.
const Cookie = ExpressCookie as unknown as new (options?: object) => ExpressCookie;

function neverStored(): SessionState {
  return { stored: null, createdAt: CREATED, refreshed: false };
}

/** The state a session has after being read with these fields. */
function storedAs(fields: Record<string, string>): SessionState {
  return { stored: new Map(Object.entries(fields)), createdAt: CREATED, refreshed: false };
}

const pairs = (flat: string[]) => Object.fromEntries(flat.flatMap((_, i) => (i % 2 === 0 ? [[flat[i], flat[i + 1]]] : [])));

describe('diffSession', () => {
  // express-session's Cookie computes originalMaxAge from its expiry and the clock: a constructor that
  // straddles a millisecond gives 59,999 for a maxAge of 60,000. The clock stands still here.
  beforeEach(() => jest.spyOn(Date, 'now').mockReturnValue(CREATED));
  afterEach(() => jest.restoreAllMocks());

  const cookie = { originalMaxAge: null, httpOnly: true, path: '/' };
  const cookieJson = cookieSettingsJson(cookie)!;

  it('writes a never-stored session whole: every key as JSON, its cookie and its creation time', () => {
    const delta = diffSession({ cookie, cart: ['a'], user: { id: 1 } }, neverStored(), undefined);
    expect(pairs(delta.set)).toEqual({ cart: '["a"]', user: '{"id":1}', ':k': cookieJson, ':c': String(CREATED) });
    expect(delta.del).toEqual([]);
  });

  it('writes only the fields whose JSON changed', () => {
    const state = storedAs({ cart: '["a"]', user: '{"id":1}', ':k': cookieJson, ':c': String(CREATED) });
    const delta = diffSession({ cookie, cart: ['a', 'b'], user: { id: 1 } }, state, undefined);
    expect(delta.set).toEqual(['cart', '["a","b"]']);
    expect(delta.del).toEqual([]);
  });

  it('writes nothing when nothing changed, even for an equal value in a new object', () => {
    const state = storedAs({ user: '{"id":1,"tags":["x"]}', ':k': cookieJson, ':c': String(CREATED) });
    expect(diffSession({ cookie, user: { id: 1, tags: ['x'] } }, state, undefined)).toMatchObject({ set: [], del: [] });
  });

  it('deletes the fields of removed keys and of keys set to undefined', () => {
    const state = storedAs({ cart: '["a"]', theme: '"dark"', keep: '1', ':k': cookieJson, ':c': String(CREATED) });
    const delta = diffSession({ cookie, theme: undefined, keep: 1 }, state, undefined);
    expect(delta.set).toEqual([]);
    expect(delta.del.sort()).toEqual(['cart', 'theme']);
  });

  it('keeps the metadata fields it does not manage (last seen, device) and writes pending ones', () => {
    const state = storedAs({ ':k': cookieJson, ':c': String(CREATED), ':s': '5', ':u': 'Firefox' });
    state.pendingMeta = { ':i': '203.0.113.7' };
    const delta = diffSession({ cookie }, state, undefined);
    expect(delta.set).toEqual([':i', '203.0.113.7']);
    expect(delta.del).toEqual([]);
    expect(delta.next.get(':u')).toBe('Firefox');
  });

  it('counts the bytes of every key name and JSON value, not the reserved fields', () => {
    const delta = diffSession({ cookie, ab: 'xyz' }, neverStored(), undefined);
    expect(delta.bytes).toBe('ab'.length + '"xyz"'.length);
  });

  it.each([':c', ':evil'])('rejects the reserved key %s with SessionDataError naming it', (key) => {
    const error = (() => {
      try {
        diffSession({ cookie, [key]: 1 }, neverStored(), undefined);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(SessionDataError);
    expect(error).toMatchObject({ key });
    expect((error as Error).message).toContain(`"${key}"`);
  });

  it('rejects a BigInt with SessionDataError naming the key', () => {
    expect(() => diffSession({ cookie, balance: 10n }, neverStored(), undefined)).toThrow(
      expect.objectContaining({ name: 'SessionDataError', key: 'balance', message: expect.stringContaining('"balance"') }),
    );
  });

  it('rejects a circular value with SessionDataError naming the key', () => {
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    expect(() => diffSession({ cookie, graph: loop }, neverStored(), undefined)).toThrow(SessionDataError);
    expect(() => diffSession({ cookie, graph: loop }, neverStored(), undefined)).toThrow(/"graph"/);
  });

  it('rejects a key of the Session prototype (save) with SessionDataError naming it', () => {
    expect(() => diffSession({ cookie, save: 1 }, neverStored(), undefined)).toThrow(
      expect.objectContaining({ name: 'SessionDataError', key: 'save', message: expect.stringContaining('"save"') }),
    );
  });

  it('deletes the stored cookie of a session whose cookie now equals the template', () => {
    const template = cookieJson;
    const state = storedAs({ cart: '["a"]', ':k': cookieSettingsJson({ ...cookie, path: '/shop' })!, ':c': String(CREATED) });
    expect(diffSession({ cookie, cart: ['a'] }, state, template)).toMatchObject({ set: [], del: [':k'] });
  });

  it('omits the cookie when it equals the store template, and stores it when it differs', () => {
    const template = cookieSettingsJson(new Cookie({ maxAge: 60_000 }));
    const same = diffSession({ cookie: new Cookie({ maxAge: 60_000 }) }, neverStored(), template);
    expect(pairs(same.set)).not.toHaveProperty(':k');
    const other = diffSession({ cookie: new Cookie({ maxAge: 60_000, path: '/shop' }) }, neverStored(), template);
    expect(JSON.parse(pairs(other.set)[':k'])).toMatchObject({ path: '/shop', expires: true, originalMaxAge: 60_000 });
  });
});

describe('diffSession on a session read from Redis and barely changed', () => {
  const cookie = { originalMaxAge: null, httpOnly: true, path: '/' };
  const cookieJson = cookieSettingsJson(cookie)!;
  const read = () => storedAs({ cart: '["a"]', theme: '"dark"', ':k': cookieJson, ':c': String(CREATED) });

  it('reports the size of an unchanged session and nothing to write', () => {
    expect(diffSession({ cookie, cart: ['a'], theme: 'dark' }, read(), undefined)).toMatchObject({
      set: [],
      del: [],
      bytes: 'cart'.length + '["a"]'.length + 'theme'.length + '"dark"'.length,
    });
  });

  it('sees a removed key when nothing else changed', () => {
    expect(diffSession({ cookie, cart: ['a'] }, read(), undefined)).toMatchObject({ set: [], del: ['theme'] });
  });

  it('sees a changed cookie when nothing else changed', () => {
    const delta = diffSession({ cookie: { ...cookie, path: '/shop' }, cart: ['a'], theme: 'dark' }, read(), undefined);
    expect(delta.set[0]).toBe(':k');
    expect(JSON.parse(delta.set[1])).toMatchObject({ path: '/shop' });
  });

  it('sees a cookie that now differs from the template it used to equal', () => {
    const template = cookieJson;
    const state = storedAs({ cart: '["a"]', ':c': String(CREATED) });
    expect(diffSession({ cookie, cart: ['a'] }, state, template)).toMatchObject({ set: [], del: [] });
    expect(diffSession({ cookie: { ...cookie, httpOnly: false }, cart: ['a'] }, state, template).set[0]).toBe(':k');
  });

  it('still refuses a reserved key added to an otherwise unchanged session', () => {
    expect(() => diffSession({ cookie, cart: ['a'], theme: 'dark', ':x': 1 }, read(), undefined)).toThrow(SessionDataError);
    // Even one holding the very JSON Redis has in that field, in place of a removed key.
    expect(() => diffSession({ cookie, cart: ['a'], ':c': CREATED }, read(), undefined)).toThrow(SessionDataError);
  });

  it('reports an unchanged session as such when a key new to it is undefined', () => {
    expect(diffSession({ cookie, cart: ['a'], theme: 'dark', later: undefined }, read(), undefined)).toMatchObject({
      set: [],
      del: [],
      bytes: 'cart'.length + '["a"]'.length + 'theme'.length + '"dark"'.length,
    });
  });

  it('answers an unchanged session with the fields Redis holds, building no delta; any change builds one', () => {
    const state = read();
    expect(diffSession({ cookie, cart: ['a'], theme: 'dark' }, state, undefined).next).toBe(state.stored);
    const template = storedAs({ cart: '["a"]', ':c': String(CREATED) });
    expect(diffSession({ cookie, cart: ['a'] }, template, cookieJson).next).toBe(template.stored);
    expect(diffSession({ cookie, cart: ['b'], theme: 'dark' }, state, undefined).next).not.toBe(state.stored);
  });

  it('sees a removed key when the session holds as many keys as Redis holds reserved fields', () => {
    const state = storedAs({ cart: '["a"]', theme: '"dark"', ':c': String(CREATED) });
    expect(diffSession({ cookie, cart: ['a'] }, state, cookieJson)).toMatchObject({ set: [], del: ['theme'] });
  });

  it('stringifies each value of an unchanged session once', () => {
    let calls = 0;
    const cart = { toJSON: () => (calls++, ['a']) };
    expect(diffSession({ cookie, cart, theme: 'dark' }, read(), undefined)).toMatchObject({ set: [], del: [] });
    expect(calls).toBe(1);
  });
});

describe('cookieSettingsJson', () => {
  // express-session's Cookie computes originalMaxAge from its expiry and the clock: a constructor that
  // straddles a millisecond gives 59,999 for a maxAge of 60,000. The clock stands still here.
  beforeEach(() => jest.spyOn(Date, 'now').mockReturnValue(CREATED));
  afterEach(() => jest.restoreAllMocks());

  it('keeps whether the cookie expires, never when', () => {
    const json = cookieSettingsJson(new Cookie({ expires: new Date(CREATED + 1_234) }))!;
    expect(JSON.parse(json)).toMatchObject({ expires: true });
    expect(json).not.toContain(String(CREATED + 1_234));
    expect(JSON.parse(cookieSettingsJson(new Cookie())!)).not.toHaveProperty('expires');
  });

  it('is the same for an express-session Cookie and its plain JSON form', () => {
    const cookie = new Cookie({ maxAge: 60_000, sameSite: 'lax' });
    expect(cookieSettingsJson(JSON.parse(JSON.stringify(cookie)))).toBe(cookieSettingsJson(cookie));
  });

  it('follows every change of a setting between calls, on the same cookie and on another one', () => {
    // The last answer is reused while the settings stay the same: each change must still show.
    const cookie = new Cookie({ maxAge: 60_000, sameSite: 'lax' }) as unknown as Record<string, unknown>;
    const fresh = () => cookieSettingsJson(JSON.parse(JSON.stringify(cookie)));
    const changes: Array<[string, unknown]> = [
      ['originalMaxAge', 30_000],
      ['partitioned', true],
      ['priority', 'high'],
      ['secure', true],
      ['httpOnly', false],
      ['domain', 'shop.example'],
      ['path', '/cart'],
      ['sameSite', 'strict'],
    ];
    let before = cookieSettingsJson(cookie);
    for (const [name, value] of changes) {
      cookie[name] = value;
      const after = cookieSettingsJson(cookie);
      expect(after).not.toBe(before);
      expect(after).toBe(fresh());
      before = after;
    }
    cookie.expires = null;
    expect(JSON.parse(cookieSettingsJson(cookie)!)).not.toHaveProperty('expires');
    cookie.expires = new Date(CREATED + 60_000);
    expect(JSON.parse(cookieSettingsJson(cookie)!)).toMatchObject({ expires: true });
    expect(cookieSettingsJson(new Cookie({ maxAge: 60_000, sameSite: 'lax' }))).toBe(
      cookieSettingsJson(JSON.parse(JSON.stringify(new Cookie({ maxAge: 60_000, sameSite: 'lax' })))),
    );
    // A setting that is no primitive is serialised afresh, never matched by identity.
    const domain = { toJSON: () => 'one.example' };
    cookie.domain = domain;
    expect(JSON.parse(cookieSettingsJson(cookie)!)).toMatchObject({ domain: 'one.example' });
    domain.toJSON = () => 'two.example';
    expect(JSON.parse(cookieSettingsJson(cookie)!)).toMatchObject({ domain: 'two.example' });
    // A function is no primitive either.
    const named = Object.assign(() => undefined, { toJSON: (): string => 'three.example' });
    cookie.domain = named;
    expect(JSON.parse(cookieSettingsJson(cookie)!)).toMatchObject({ domain: 'three.example' });
    named.toJSON = () => 'four.example';
    expect(JSON.parse(cookieSettingsJson(cookie)!)).toMatchObject({ domain: 'four.example' });
  });

  it("answers settings it saw last without building express-session's data object again", () => {
    const data = jest.spyOn(ExpressCookie.prototype as unknown as { readonly data: object }, 'data', 'get');
    try {
      for (const settings of [
        { maxAge: 45_000, sameSite: 'strict', path: '/memo' },
        { sameSite: 'strict', path: '/memo' },
      ]) {
        const json = cookieSettingsJson(new Cookie(settings)); // a persistent cookie, then a browser-session one
        const calls = data.mock.calls.length;
        expect(cookieSettingsJson(new Cookie(settings))).toBe(json);
        expect(data.mock.calls.length).toBe(calls);
      }
    } finally {
      data.mockRestore();
    }
  });

  it('serialises afresh a cookie whose every setting differs from the last one', () => {
    const one = new Cookie({
      maxAge: 60_000,
      partitioned: true,
      priority: 'high',
      secure: true,
      httpOnly: true,
      domain: 'a.example',
      path: '/a',
      sameSite: 'strict',
    });
    const other = new Cookie({ partitioned: false, priority: 'low', secure: false, httpOnly: false, domain: 'b.example', path: '/b', sameSite: 'lax' });
    other.expires = null;
    expect(JSON.parse(cookieSettingsJson(one)!)).toMatchObject({ path: '/a', expires: true });
    expect(JSON.parse(cookieSettingsJson(other)!)).toEqual({
      originalMaxAge: null,
      partitioned: false,
      priority: 'low',
      secure: false,
      httpOnly: false,
      domain: 'b.example',
      path: '/b',
      sameSite: 'lax',
    });
  });

  it("serialises a plain object afresh, whatever it holds besides Cookie's settings", () => {
    const settings = { sameSite: 'lax', path: '/plain' };
    cookieSettingsJson(new Cookie(settings));
    const plain = { ...JSON.parse(JSON.stringify(new Cookie(settings))), label: 'kept' } as object;
    expect(JSON.parse(cookieSettingsJson(plain)!)).toMatchObject({ path: '/plain', label: 'kept' });
  });

  it('gives a plain cookie without originalMaxAge a null one, as Cookie has', () => {
    expect(JSON.parse(cookieSettingsJson({ path: '/', httpOnly: true })!)).toEqual({ path: '/', httpOnly: true, originalMaxAge: null });
  });

  it("serialises afresh a subclass's cookie whose data holds more than Cookie's settings", () => {
    class LabelledCookie extends Cookie {
      label = 'a';
      get data(): object {
        return { ...(Reflect.get(Cookie.prototype, 'data', this) as object), label: this.label }; // Cookie's own data, and one more field
      }
    }
    const labelled = new LabelledCookie({ maxAge: 60_000 });
    expect(JSON.parse(cookieSettingsJson(labelled)!)).toMatchObject({ label: 'a' });
    labelled.label = 'b';
    expect(JSON.parse(cookieSettingsJson(labelled)!)).toMatchObject({ label: 'b' });
  });

  it('serialises a Cookie with a data property of its own from that data', () => {
    const plain = new Cookie({ maxAge: 60_000 });
    const own = new Cookie({ maxAge: 60_000 });
    Object.defineProperty(own, 'data', { value: { path: '/own', originalMaxAge: 5 } });
    expect(JSON.parse(cookieSettingsJson(plain)!)).toMatchObject({ path: '/' });
    expect(JSON.parse(cookieSettingsJson(own)!)).toEqual({ path: '/own', originalMaxAge: 5 });
  });
});

describe('toJson', () => {
  it('returns undefined for undefined (a deletion), and the JSON otherwise', () => {
    expect(toJson('u', undefined)).toBeUndefined();
    expect(toJson('d', new Date(CREATED))).toBe(JSON.stringify(new Date(CREATED)));
    expect(toJson('o', { keep: 1, dropped: () => 1 })).toBe('{"keep":1}'); // inside a value, JSON's own rules
  });

  it('refuses, naming the key, a value JSON would drop without a word: a function, a symbol, a toJSON answering undefined', () => {
    expect(() => toJson('f', () => 1)).toThrow(new SessionDataError('Session key "f" cannot be stored as JSON: JSON has no function', 'f'));
    expect(() => toJson('s', Symbol('s'))).toThrow('Session key "s" cannot be stored as JSON: JSON has no symbol');
    expect(() => toJson('t', { toJSON: () => undefined })).toThrow('Session key "t" cannot be stored as JSON: JSON has no form of this value');
  });
});

describe('decodeSession', () => {
  const cookieJson = JSON.stringify({ originalMaxAge: 60_000, httpOnly: true, path: '/', expires: true });

  it('parses each field as one key, and takes the expiry from the expiry field, which it keeps out of the stored fields', () => {
    const { data, state } = decodeSession({ ':c': String(CREATED), cart: '["a"]', ':k': cookieJson, ':s': '7', ':e': String(CREATED + 9_999) }, undefined);
    expect(data).toEqual({ cart: ['a'], cookie: { originalMaxAge: 60_000, httpOnly: true, path: '/', expires: new Date(CREATED + 9_999) } });
    expect(state).toMatchObject({ createdAt: CREATED, lastSeenAt: 7, expiresAt: CREATED + 9_999, refreshed: false });
    expect(state.stored).toEqual(
      new Map([
        [':c', String(CREATED)],
        ['cart', '["a"]'],
        [':k', cookieJson],
        [':s', '7'],
      ]),
    );
  });

  it('gives a persistent cookie of a session without expiry field (an older version wrote it) the full window from now', () => {
    const { data, state } = decodeSession({ ':c': String(CREATED), ':k': cookieJson }, undefined, CREATED + 5);
    expect(state.expiresAt).toBeUndefined();
    expect(data.cookie.expires).toEqual(new Date(CREATED + 5 + 60_000));
  });

  it('reads an expiry field that is not a number as absent: the full window from now', () => {
    const { data, state } = decodeSession({ ':c': String(CREATED), ':k': cookieJson, ':e': 'soon' }, undefined, CREATED + 5);
    expect(state.expiresAt).toBeUndefined();
    expect(data.cookie.expires).toEqual(new Date(CREATED + 5 + 60_000));
  });

  it('gives a persistent cookie without a maxAge or an expiry field no expiry', () => {
    const noMaxAge = JSON.stringify({ originalMaxAge: null, httpOnly: true, path: '/', expires: true });
    const { data } = decodeSession({ ':c': String(CREATED), ':k': noMaxAge }, undefined, CREATED + 5);
    expect(data.cookie.expires).toBeNull();
  });

  it("skips a stored key of the Session prototype's names (written before they were refused), read eagerly or lazily", () => {
    const fields = { ':c': String(CREATED), ':k': cookieJson, save: '1', constructor: '{"a":1}', cart: '["a"]' };
    const reporter = { ignoreCorruptKey: () => undefined, ignoreUnopenableKey: () => undefined };
    for (const { data } of [decodeSession(fields, undefined), decodeSession(fields, undefined, CREATED, undefined, reporter)]) {
      expect(Object.keys(data)).toEqual(['cart', 'cookie']);
      expect(Object.prototype.hasOwnProperty.call(data, 'save')).toBe(false);
    }
  });

  it('attaches its state to the data of a lazy read only', () => {
    const fields = { ':c': String(CREATED), ':k': cookieJson, cart: '["a"]' };
    expect(stateOf(decodeSession(fields, undefined).data)).toBeUndefined();
    const lazy = decodeSession(fields, undefined, CREATED, undefined, { ignoreCorruptKey: () => undefined, ignoreUnopenableKey: () => undefined });
    expect(stateOf(lazy.data)).toBe(lazy.state);
  });

  it('gives every read its own cookie settings, nested values and an array cookie too', () => {
    const nested = JSON.stringify({ originalMaxAge: null, path: '/', extra: { n: 1 } });
    const first = decodeSession({ ':c': String(CREATED), ':k': nested }, undefined).data.cookie as unknown as { extra: { n: number } };
    first.extra.n = 2;
    const second = decodeSession({ ':c': String(CREATED), ':k': nested }, undefined).data.cookie as unknown as { extra: { n: number } };
    expect(second.extra.n).toBe(1);
    const arrays = [1, 2].map(() => decodeSession({ ':c': String(CREATED), ':k': '[1]' }, undefined).data.cookie);
    expect(arrays.map((read) => Array.isArray(read))).toEqual([true, true]);
  });

  it("parses a cookie's JSON once while the reads bring the same, its values all primitives (null too)", () => {
    const parse = jest.spyOn(JSON, 'parse');
    const same = JSON.stringify({ originalMaxAge: null, httpOnly: true, path: '/memo' });
    try {
      const reads = [1, 2, 3].map(() => decodeSession({ ':c': String(CREATED), ':k': same }, undefined).data.cookie);
      expect(parse.mock.calls.filter(([text]) => text === same)).toHaveLength(1);
      expect(reads[2]).toEqual({ originalMaxAge: null, httpOnly: true, path: '/memo', expires: null });
      expect(reads[1]).not.toBe(reads[2]);
    } finally {
      parse.mockRestore();
    }
  });

  it('uses the template when the session stored no cookie, and a browser-session cookie has no expiry', () => {
    const template = JSON.stringify({ originalMaxAge: null, httpOnly: true, path: '/' });
    const { data } = decodeSession({ ':c': String(CREATED), n: '1', ':e': String(CREATED + 5) }, template);
    expect(data.cookie).toEqual({ originalMaxAge: null, httpOnly: true, path: '/', expires: null });
  });

  it.each([
    ['a field that is not JSON', { ':c': String(CREATED), ':k': cookieJson, cart: '{oops' }, /"cart" is not valid JSON/],
    ['no ":c"', { ':k': cookieJson, cart: '[]' }, /":c" is missing/],
    ['a ":c" that is not a number', { ':c': 'yesterday', ':k': cookieJson }, /":c"/],
    ['no cookie and no template', { ':c': String(CREATED), cart: '[]' }, /":k" is missing/],
    ['a cookie that is not an object', { ':c': String(CREATED), ':k': 'null' }, /cookie is not an object/],
    ['a cookie that is not JSON', { ':c': String(CREATED), ':k': '{' }, /":k" is not valid JSON/],
    ['a cookie that is a number', { ':c': String(CREATED), ':k': '5' }, /cookie is not an object/],
  ])('throws CorruptSessionError for %s', (_what, fields: Record<string, string>, message) => {
    expect(() => decodeSession(fields, undefined)).toThrow(CorruptSessionError);
    expect(() => decodeSession(fields, undefined)).toThrow(message);
  });
});

describe('decodeSession and diffSession under encryption', () => {
  const sealing: Sealing = { sealer: new FieldSealer({ keys: [Buffer.alloc(32, 4)], acceptPlaintext: false }), redisKey: 'sess:0a1b' };
  const cookie = { originalMaxAge: null, httpOnly: true, path: '/' };
  const cookieJson = cookieSettingsJson(cookie)!;
  const session = { cookie, cart: ['tea'], user: { id: 'u1', name: 'Ada' } };

  /** What Redis holds after the first save of `session`, read back. */
  function savedAndRead(): { fields: string[]; state: SessionState } {
    const first = diffSession(session, neverStored(), undefined, sealing);
    const fields = [...first.set, ':u', sealing.sealer.seal(sealing.redisKey, ':u', 'Firefox')];
    return { fields, state: decodeSession(pairs(fields), undefined, CREATED + 1_000, sealing).state };
  }

  it("leaves the device metadata as Redis holds it on a request's read, checked for nothing: only the list opens it", () => {
    const reporter = { ignoreCorruptKey: jest.fn(), ignoreUnopenableKey: jest.fn() };
    const other = new FieldSealer({ keys: [Buffer.alloc(32, 5)], acceptPlaintext: false });
    const fields = {
      ...pairs(diffSession(session, neverStored(), undefined, sealing).set),
      ':u': other.seal(sealing.redisKey, ':u', 'Firefox'),
      ':i': '127.0.0.1',
    };
    const { data, state } = decodeSession(fields, undefined, CREATED + 1_000, sealing, reporter);
    expect(data.cart).toEqual(['tea']);
    expect(state.stored!.get(':u')).toBe(fields[':u']);
    expect(state.stored!.get(':i')).toBe('127.0.0.1');
    expect(reporter.ignoreUnopenableKey).not.toHaveBeenCalled();
    // Read whole (the list, a reseal), every sealed field opens or the session is refused.
    expect(() => decodeSession(fields, undefined, CREATED + 1_000, sealing)).toThrow(UnopenableSessionError);
  });

  it('seals every app value and the device metadata, and leaves the times and the cookie in clear', () => {
    const { fields, state } = savedAndRead();
    const held = pairs(fields);
    expect(held[':c']).toBe(String(CREATED));
    expect(held[':k']).toBe(cookieJson);
    for (const field of ['cart', 'user', ':u']) expect(held[field]).toMatch(/^~/);
    expect(JSON.stringify(fields)).not.toMatch(/tea|Ada|Firefox/);
    // The state keeps the plaintext to diff against, and the sealed strings for compare-and-set.
    expect(state.stored!.get('cart')).toBe('["tea"]');
    expect(state.stored!.get(':u')).toBe('Firefox');
    expect(state.held!.get('cart')).toBe(held.cart);
  });

  it('opens what it sealed, and writes nothing for an unchanged session though every seal would differ', () => {
    const { fields, state } = savedAndRead();
    expect(decodeSession(pairs(fields), undefined, CREATED + 1_000, sealing).data).toMatchObject({ cart: ['tea'], user: { name: 'Ada' } });
    expect(diffSession({ ...session }, state, undefined, sealing)).toMatchObject({ set: [], del: [] });
  });

  it('writes only the changed field, sealed, and keeps the others as Redis holds them', () => {
    const { fields, state } = savedAndRead();
    const delta = diffSession({ ...session, cart: ['tea', 'cup'] }, state, undefined, sealing);
    expect(delta.set.filter((_, i) => i % 2 === 0)).toEqual(['cart']);
    expect(delta.set[1]).toMatch(/^~/);
    expect(sealing.sealer.open(sealing.redisKey, 'cart', delta.set[1])).toBe('["tea","cup"]');
    expect(delta.held!.get('cart')).toBe(delta.set[1]);
    expect(delta.held!.get('user')).toBe(pairs(fields).user);
  });

  it("leaves a request's device metadata sealed (nothing on the request path reads it), and a save keeps it as Redis holds it", () => {
    const { fields } = savedAndRead();
    const held: Record<string, string> = { ...pairs(fields), ':i': sealing.sealer.seal(sealing.redisKey, ':i', '203.0.113.7') };
    const open = jest.spyOn(sealing.sealer, 'open');
    try {
      const { data, state } = decodeSession(held, undefined, CREATED + 1_000, sealing, {
        ignoreCorruptKey: () => undefined,
        ignoreUnopenableKey: () => undefined,
      });
      expect(open).not.toHaveBeenCalled(); // the app values too, until reached (left-sealed.spec.ts)
      expect({ ...data }).toMatchObject({ cart: ['tea'], user: { name: 'Ada' } });
      expect(open.mock.calls.map(([, field]) => field).sort()).toEqual(['cart', 'user']);
      expect(state.stored!.get(':u')).toBe(held[':u']);
      expect(state.stored!.get(':i')).toBe(held[':i']);
      expect(JSON.stringify([...state.stored!.values()])).not.toMatch(/Firefox|203\.0\.113/);
      const delta = diffSession({ ...data, cart: ['tea', 'cup'] }, state, undefined, sealing);
      expect(delta.set.filter((_, i) => i % 2 === 0)).toEqual(['cart']);
      expect(delta.held!.get(':u')).toBe(held[':u']);
      // A read for anything else than a request (store.get, reseal) opens every sealed field, as before.
      open.mockClear();
      expect(decodeSession(held, undefined, CREATED + 1_000, sealing).state.stored!.get(':u')).toBe('Firefox');
      expect(open.mock.calls.map(([, field]) => field).sort()).toEqual([':i', ':u', 'cart', 'user']);
    } finally {
      open.mockRestore();
    }
  });

  it('refuses a value copied from another field, or a plaintext value, as UnopenableSessionError', () => {
    const held = pairs(savedAndRead().fields);
    const copied = { ...held, user: held.cart };
    expect(() => decodeSession(copied, undefined, CREATED + 1, sealing)).toThrow(UnopenableSessionError);
    const plain = { ...held, cart: '["tea"]' };
    expect(() => decodeSession(plain, undefined, CREATED + 1, sealing)).toThrow(/"cart" is not sealed/);
  });
});
