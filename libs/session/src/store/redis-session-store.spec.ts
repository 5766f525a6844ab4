import { EventEmitter } from 'node:events';
import type { Request } from 'express';
import { Cookie } from 'express-session';
import { RedisSessionStore } from './redis-session-store';
import type { SessionCore } from './session-core';
import { attachState, stateOf } from './session-state';

/*
 * express-session's Store contract over the store's core (redis-session-store.ts), with a fake core
 * and a client that is an event emitter: each method's promise and callback, and the connection events.
 */

function setup() {
  const client = Object.assign(new EventEmitter(), { defineCommand: () => undefined });
  const core = {
    reader: { load: jest.fn(() => Promise.resolve({ cart: [1] })) },
    writer: { saveChanges: jest.fn((): Promise<void> | null => Promise.resolve()) },
    slides: { touch: jest.fn(() => Promise.resolve()) },
    admin: {
      destroy: jest.fn(() => Promise.resolve(true)),
      all: jest.fn(() => Promise.resolve({ d1: { cart: [] } })),
      digests: jest.fn(() => Promise.resolve(['d1', 'd2', 'd3'])),
      clear: jest.fn(() => Promise.resolve()),
    },
  };
  const store = new RedisSessionStore({ client: client as never }, core as unknown as SessionCore);
  return { store, core, client };
}

/** The callback form of a store method: its (error, value) arguments. */
function called<T>(run: (callback: (error: unknown, value?: T) => void) => unknown): Promise<[unknown, T | undefined]> {
  return new Promise((resolve) => {
    run((error, value) => resolve([error, value]));
  });
}

describe('RedisSessionStore', () => {
  it('reads, lists, counts and clears through the core, as promises and through callbacks', async () => {
    const { store, core } = setup();
    expect(await store.get('sid')).toEqual({ cart: [1] });
    expect(core.reader.load).toHaveBeenCalledWith('sid');
    expect(await called((cb) => store.get('sid', cb))).toEqual([null, { cart: [1] }]);
    expect(await store.all()).toEqual({ d1: { cart: [] } });
    expect(await called((cb) => store.all(cb))).toEqual([null, { d1: { cart: [] } }]);
    expect(await store.ids()).toEqual(['d1', 'd2', 'd3']);
    expect(await called((cb) => store.ids(cb))).toEqual([null, ['d1', 'd2', 'd3']]);
    expect(await store.length()).toBe(3);
    expect(await called((cb) => store.length(cb))).toEqual([null, 3]);
    await store.clear();
    expect(core.admin.clear).toHaveBeenCalledTimes(1);
  });

  it('saves through the writer, a save with nothing to write resolving at once', async () => {
    const { store, core } = setup();
    const session = { cookie: {}, n: 1 } as never;
    await store.set('sid', session);
    expect(core.writer.saveChanges).toHaveBeenCalledWith('sid', session);
    core.writer.saveChanges.mockReturnValueOnce(null);
    await expect(store.set('sid', session)).resolves.toBeUndefined();
    expect(await called((cb) => store.set('sid', session, cb))).toEqual([null, undefined]);
  });

  it('hands a value the writer refuses at once to the callback and the promise, as any other failure', async () => {
    const { store, core } = setup();
    const refused = new Error('session key "x" holds a function');
    core.writer.saveChanges.mockImplementation(() => {
      throw refused;
    });
    await expect(store.set('sid', {} as never)).rejects.toBe(refused);
    const [error] = await called((cb) => void store.set('sid', {} as never, cb).catch(() => undefined));
    expect(error).toBe(refused);
  });

  it('touches through the slides and destroys through the admin, answering nothing', async () => {
    const { store, core } = setup();
    const session = { cookie: {} } as never;
    await store.touch('sid', session);
    expect(core.slides.touch).toHaveBeenCalledWith('sid', session);
    await expect(store.destroy('sid')).resolves.toBeUndefined();
    expect(core.admin.destroy).toHaveBeenCalledWith('sid');
    expect(await called((cb) => store.destroy('sid', cb))).toEqual([null, undefined]);
  });

  it("inflates a session read by get with the store's bookkeeping carried over", () => {
    const { store } = setup();
    const req = { sessionID: 'sid', sessionStore: store } as unknown as Request;
    const CookieClass = Cookie as unknown as new (options?: object) => Cookie;
    const data = { cookie: new CookieClass({ maxAge: 60_000 }), cart: [1] };
    const state = attachState(data, { stored: new Map(), createdAt: 1, refreshed: false });
    const session = store.createSession(req, data);
    expect(stateOf(session)).toBe(state);
    expect((session as unknown as { cart: number[] }).cart).toEqual([1]);
    const plain = store.createSession({ sessionID: 'other', sessionStore: store } as unknown as Request, { cookie: new CookieClass() });
    expect(stateOf(plain)).toBeUndefined();
  });

  it('tells express-session when Redis goes away and comes back, once each, whichever event says so', () => {
    const { store, client } = setup();
    const heard: string[] = [];
    store.on('disconnect', () => heard.push('disconnect'));
    store.on('connect', () => heard.push('connect'));
    client.emit('ready'); // connected from the start: nothing to say
    expect(heard).toEqual([]);
    client.emit('close');
    expect(heard).toEqual(['disconnect']);
    client.emit('end');
    client.emit('ready');
    client.emit('ready');
    expect(heard).toEqual(['disconnect', 'connect']);
    client.emit('end');
    expect(heard).toEqual(['disconnect', 'connect', 'disconnect']);
  });
});
