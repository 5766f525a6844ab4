import { cookieSettingsJson, decodeSession, diffSession } from './session-codec';
import { attachState, type SessionState } from './session-state';
import { putTrackedValues, readUntracked, settleUnreached, unreachedJson } from './tracked-values';

const CREATED = 1_700_000_000_000;
const cookie = { originalMaxAge: null, httpOnly: true, path: '/' };
const cookieJson = cookieSettingsJson(cookie)!;

/** A session as a request gets it: read from these fields, values put behind the tracking accessors. */
function readSession(fields: Record<string, string>): { session: Record<string, unknown>; state: SessionState } {
  const { data, state } = decodeSession({ ...fields, ':c': String(CREATED), ':k': cookieJson }, undefined, CREATED);
  const session: Record<string, unknown> = {};
  attachState(session, state);
  putTrackedValues(session, data, state);
  session.cookie = data.cookie;
  return { session, state };
}

/** Makes every JSON.stringify of `value` countable, as a value whose toJSON counts its calls. */
function counted<T extends object>(value: T): { value: T; calls: () => number } {
  let calls = 0;
  Object.defineProperty(value, 'toJSON', {
    value(this: T) {
      calls++;
      const { ...plain } = this as Record<string, unknown>;
      return plain;
    },
    enumerable: false,
  });
  return { value, calls: () => calls };
}

describe('tracked session values', () => {
  it('lets app code delete a value behind an accessor, read lazily or not: the save deletes its field', () => {
    const { session, state } = readSession({ prefs: '{"theme":"dark"}', n: '1' });
    expect(Object.keys(session)).toEqual(['prefs', 'n', 'cookie']);
    expect(delete session.prefs).toBe(true);
    expect(diffSession(session, state, undefined).del).toEqual(['prefs']);
    const lazy = decodeSession({ prefs: '{"theme":"dark"}', ':c': String(CREATED), ':k': cookieJson }, undefined, CREATED, undefined, {
      ignoreCorruptKey: () => undefined,
      ignoreUnopenableKey: () => undefined,
    });
    const data = lazy.data as Record<string, unknown>;
    expect(Object.keys(data)).toEqual(['prefs', 'cookie']);
    expect(delete data.prefs).toBe(true);
    expect(data).not.toHaveProperty('prefs');
  });

  it('diffs a key the request never reached from the JSON read, without stringifying its value', () => {
    const { session, state } = readSession({ prefs: '{"theme":"dark"}', user: '{"id":1}' });
    const prefs = counted(state.tracked!.values.get('prefs') as object);
    state.tracked!.values.set('prefs', prefs.value); // the value the accessor hands out, now counting
    expect(diffSession(session, state, undefined).set).toEqual([]);
    expect(prefs.calls()).toBe(0);
    expect(unreachedJson(session, 'prefs', state)).toBe('{"theme":"dark"}');

    // Once read, the value may have been changed in place: it is stringified again.
    expect(session.prefs).toEqual({ theme: 'dark' });
    expect(unreachedJson(session, 'prefs', state)).toBeUndefined();
    expect(diffSession(session, state, undefined).set).toEqual([]);
    expect(prefs.calls()).toBe(1);
  });

  it('saves a value changed in place through a read, and one assigned', () => {
    const { session, state } = readSession({ cart: '["tea"]', user: '{"id":1}', prefs: '{"theme":"dark"}' });
    (session.cart as string[]).push('cup');
    session.user = { id: 2 };
    expect(diffSession(session, state, undefined).set).toEqual(['cart', '["tea","cup"]', 'user', '{"id":2}']);
    expect(session.user).toEqual({ id: 2 });
  });

  it('saves a key deleted and assigned again, and deletes one deleted', () => {
    const { session, state } = readSession({ cart: '["tea"]', user: '{"id":1}' });
    delete session.cart;
    session.cart = ['pot']; // a plain data property now: the accessor is gone, though the key was never read
    delete session.user;
    const delta = diffSession(session, state, undefined);
    expect(delta.set).toEqual(['cart', '["pot"]']);
    expect(delta.del).toEqual(['user']);
  });

  it('saves a key app code redefined with Object.defineProperty', () => {
    const { session, state } = readSession({ cart: '["tea"]' });
    Object.defineProperty(session, 'cart', { value: ['cup'], enumerable: true, configurable: true, writable: true });
    expect(diffSession(session, state, undefined).set).toEqual(['cart', '["cup"]']);
  });

  it('keeps primitives as plain properties, and objects enumerable and serializable as before', () => {
    const { session } = readSession({ views: '3', note: '"hi"', cart: '["tea"]' });
    expect(Object.getOwnPropertyDescriptor(session, 'views')).toMatchObject({ value: 3, writable: true });
    expect(Object.keys(session)).toEqual(['views', 'note', 'cart', 'cookie']);
    expect(JSON.parse(JSON.stringify(session))).toMatchObject({ views: 3, note: 'hi', cart: ['tea'] });
    expect({ ...session }).toMatchObject({ cart: ['tea'] });
  });

  it("leaves a key the library itself reads (the save's user id) unreached, and app code's reads still count", () => {
    const { session, state } = readSession({ user: '{"id":7}', cart: '["tea"]' });
    const user = counted(state.tracked!.values.get('user') as object);
    state.tracked!.values.set('user', user.value);
    expect(readUntracked(() => (session.user as { id: number }).id)).toBe(7);
    expect(unreachedJson(session, 'user', state)).toBe('{"id":7}');
    expect(diffSession(session, state, undefined).set).toEqual([]);
    expect(user.calls()).toBe(0);

    expect(() =>
      readUntracked(() => {
        throw new Error('a users.id function that throws');
      }),
    ).toThrow('a users.id function that throws');
    void session.cart; // marking is back on after a throw
    expect(unreachedJson(session, 'cart', state)).toBeUndefined();
  });

  it('gives each session its own values under one shared accessor', () => {
    const first = readSession({ cart: '["tea"]' });
    const second = readSession({ cart: '["cup"]' });
    (first.session.cart as string[]).push('pot');
    expect(second.session.cart).toEqual(['cup']);
    expect(Object.getOwnPropertyDescriptor(first.session, 'cart')!.get).toBe(Object.getOwnPropertyDescriptor(second.session, 'cart')!.get);
    expect(unreachedJson(second.session, 'cart', second.state)).toBeUndefined(); // read just above
  });

  it('reads undefined through an accessor copied onto an object without the state, and assigns a plain property there', () => {
    const { session } = readSession({ cart: '["tea"]' });
    const copy: Record<string, unknown> = {};
    Object.defineProperty(copy, 'cart', Object.getOwnPropertyDescriptor(session, 'cart')!);
    expect(copy.cart).toBeUndefined();
    copy.cart = ['cup'];
    expect(Object.getOwnPropertyDescriptor(copy, 'cart')).toEqual({ value: ['cup'], writable: true, enumerable: true, configurable: true });
    expect(session.cart).toEqual(['tea']);
  });

  it('shares at most 1,024 accessors per kind, and makes one for each session past that', () => {
    jest.isolateModules(() => {
      // A fresh copy of the modules: the shared maps start empty.
      /* eslint-disable @typescript-eslint/no-require-imports -- isolateModules needs require */
      const codec = require('./session-codec') as typeof import('./session-codec');
      const values = require('./tracked-values') as typeof import('./tracked-values');
      const states = require('./session-state') as typeof import('./session-state');
      /* eslint-enable @typescript-eslint/no-require-imports */
      const fields: Record<string, string> = { ':c': String(CREATED), ':k': cookieJson };
      for (let i = 0; i <= 1_024; i++) fields[`k${i}`] = '[0]';
      const read = () => {
        const { data, state } = codec.decodeSession(fields, undefined, CREATED, undefined, {
          ignoreCorruptKey: () => undefined,
          ignoreUnopenableKey: () => undefined,
        });
        const session: Record<string, unknown> = {};
        states.attachState(session, state);
        values.putTrackedValues(session, data, state);
        return { data, session };
      };
      const first = read();
      const second = read();
      const getter = (object: object, key: string) => Object.getOwnPropertyDescriptor(object, key)!.get;
      for (const kind of ['data', 'session'] as const) {
        expect(getter(first[kind], 'k1023')).toBe(getter(second[kind], 'k1023'));
        expect(getter(first[kind], 'k1024')).not.toBe(getter(second[kind], 'k1024'));
        expect(second[kind].k1024).toEqual([0]);
      }
    });
  });
});

describe('a lazy read (decodeSession with a reporter)', () => {
  function lazySession(fields: Record<string, string>) {
    const reported: string[] = [];
    const reporter = { ignoreCorruptKey: (_redisKey: string | undefined, key: string) => void reported.push(key), ignoreUnopenableKey: () => undefined };
    const { data, state } = decodeSession({ ...fields, ':c': String(CREATED), ':k': cookieJson }, undefined, CREATED, undefined, reporter);
    return { data: data as Record<string, unknown>, state, reported };
  }
  function onRequest(data: Record<string, unknown>, state: SessionState): Record<string, unknown> {
    const session: Record<string, unknown> = {};
    attachState(session, state);
    putTrackedValues(session, data, state);
    session.cookie = data.cookie;
    return session;
  }

  afterEach(() => jest.restoreAllMocks());

  it('parses an object or array value only when something reaches it, primitives at once', () => {
    const parse = jest.spyOn(JSON, 'parse');
    const { data, state } = lazySession({ cart: '["tea"]', prefs: '{"theme":"dark"}', views: '3', name: '"Ann"' });
    const parsedAtRead = parse.mock.calls.map(([text]) => String(text));
    expect(parsedAtRead).toEqual(expect.arrayContaining(['3', '"Ann"']));
    expect(parsedAtRead).not.toEqual(expect.arrayContaining(['["tea"]']));
    expect(parsedAtRead).not.toEqual(expect.arrayContaining(['{"theme":"dark"}']));
    const session = onRequest(data, state);
    expect(parse.mock.calls.map(([text]) => String(text))).not.toContain('["tea"]');

    expect(session.cart).toEqual(['tea']);
    expect(parse.mock.calls.filter(([text]) => text === '["tea"]')).toHaveLength(1);
    expect(session.cart).toBe(session.cart); // parsed once, the same object after
    // The unreached one is diffed from its JSON and still never parsed.
    expect(diffSession(session, state, undefined).set).toEqual([]);
    expect(parse.mock.calls.filter(([text]) => text === '{"theme":"dark"}')).toHaveLength(0);
    expect({ ...session, cookie: undefined }).toEqual({ cart: ['tea'], prefs: { theme: 'dark' }, views: 3, name: 'Ann', cookie: undefined });
  });

  it('gives the data the same values before it reaches a request, and the request the object the data parsed', () => {
    const { data, state } = lazySession({ user: '{"id":"u1"}', cart: '[1]' });
    const user = data.user;
    expect(user).toEqual({ id: 'u1' });
    expect(data.user).toBe(user); // parsed once
    const session = onRequest(data, state);
    expect(session.user).toBe(user);
    expect(session.cart).toEqual([1]);
    expect(Object.keys(data)).toEqual(['user', 'cart', 'cookie']);
  });

  it('reads a corrupt value as absent, reports it once, and keeps what Redis holds in the save', () => {
    const { data, state, reported } = lazySession({ cart: '{not json', bad: 'tru', user: '{"id":1}' });
    const session = onRequest(data, state);
    expect(session.cart).toBeUndefined();
    expect(session.cart).toBeUndefined();
    expect(session.bad).toBeUndefined();
    expect(reported).toEqual(['cart', 'bad']);
    expect(JSON.stringify(session)).toBe(`{"user":{"id":1},"cookie":${JSON.stringify(data.cookie)}}`);
    // Not reached, so not deleted: the save finds nothing to write.
    const delta = diffSession(session, state, undefined);
    expect(delta.set).toEqual([]);
    expect(delta.del).toEqual([]);
    // Assigned, it is written like any other key.
    session.cart = ['pot'];
    expect(diffSession(session, state, undefined).set).toEqual(['cart', '["pot"]']);
  });

  it('reports a corrupt value the data reached before the request, and the request keeps it unreached', () => {
    const { data, state, reported } = lazySession({ cart: '[broken', user: '{"id":1}' });
    expect(data.cart).toBeUndefined();
    expect(reported).toEqual(['cart']);
    const session = onRequest(data, state);
    expect(session.cart).toBeUndefined();
    expect(reported).toEqual(['cart']);
    expect(diffSession(session, state, undefined).del).toEqual([]);
  });

  it('keeps primitives as plain properties of the data and of the session', () => {
    const { data, state } = lazySession({ views: '3', cart: '["tea"]' });
    expect(Object.getOwnPropertyDescriptor(data, 'views')).toEqual({ value: 3, writable: true, enumerable: true, configurable: true });
    const session = onRequest(data, state);
    expect(Object.getOwnPropertyDescriptor(session, 'views')).toEqual({ value: 3, writable: true, enumerable: true, configurable: true });
  });

  it('keeps a value assigned to the data before the request, and the request gets it', () => {
    const { data, state } = lazySession({ cart: '["tea"]' });
    data.cart = ['cup'];
    expect(data.cart).toEqual(['cup']);
    expect(onRequest(data, state).cart).toEqual(['cup']);
  });

  it('reads the user id for the save without marking it reached, parsing it once', () => {
    const { data, state } = lazySession({ user: '{"id":"u1"}' });
    const session = onRequest(data, state);
    expect(readUntracked(() => (session.user as { id: string }).id)).toBe('u1');
    expect(unreachedJson(session, 'user', state)).toBe('{"id":"u1"}');
  });

  describe('a value SessionService.update wrote (settleUnreached)', () => {
    it("reads it from the JSON written, as not reached: the save neither stringifies nor writes it, and the caller's result is its own", () => {
      const { session, state } = readSession({ cart: '["tea"]', user: '{"id":1}' });
      expect(session.cart).toEqual(['tea']); // reached by the handler before its update
      const result = ['tea', 'cup']; // what the update answers its caller
      state.stored!.set('cart', JSON.stringify(result));
      expect(settleUnreached(session, state, 'cart')).toBe(true);

      expect(unreachedJson(session, 'cart', state)).toBe('["tea","cup"]');
      expect(diffSession(session, state, undefined).set).toEqual([]);
      result.push('saucer'); // the caller's copy: changing it changes nothing the session saves
      expect(session.cart).toEqual(['tea', 'cup']);
      expect(session.cart).not.toBe(result);
      // Read, it may be changed in place, and then it is saved.
      (session.cart as string[]).push('pot');
      expect(diffSession(session, state, undefined).set).toEqual(['cart', '["tea","cup","pot"]']);
    });

    it('does nothing for a key not behind its tracking accessor, or once the session was saved whole since its read', () => {
      const { session, state } = readSession({ cart: '["tea"]', user: '{"id":1}' });
      session.theme = 'dark'; // never read from Redis: a plain property
      state.stored!.set('theme', '"light"');
      expect(settleUnreached(session, state, 'theme')).toBe(false);
      delete session.user;
      session.user = { id: 2 }; // the accessor replaced by a data property
      expect(settleUnreached(session, state, 'user')).toBe(false);
      Object.defineProperty(session, 'user', { get: () => ({ id: 3 }), enumerable: true, configurable: true }); // an accessor of app code's own
      expect(settleUnreached(session, state, 'user')).toBe(false);
      state.stored = new Map(state.stored); // a save replaced what the accessors read from
      expect(settleUnreached(session, state, 'cart')).toBe(false);
      expect(session.cart).toEqual(['tea']);
    });
  });
});
