import { PayloadTooLargeException, ServiceUnavailableException } from '@nestjs/common';
import { inspect } from 'node:util';
import { SessionStoreUnavailableError } from '../errors/session-store-unavailable.error';
import { SessionTooLargeError } from '../errors/session-too-large.error';
import { attachState } from '../store/session-state';
import { checkSessionObject } from '../store/session-validation';
import { putTrackedValues } from '../store/tracked-values';
import { SessionCookie } from '../cookie/session-cookie';
import type { SessionRequest } from './http-platform';
import { RequestSession } from './request-session-class';

type Callback = (error?: unknown) => void;

/** A request with an in-memory store behind it, holding what express-session's Session calls on it. */
function requestWithStore(failWith?: unknown, carried = true) {
  const saved = new Map<string, Record<string, unknown>>();
  let next = 0;
  const req = { sessionID: 'id-0' } as SessionRequest & { sessionStore: object };
  const fresh = () => {
    const session = new RequestSession(req) as unknown as SessionRequest['session'];
    session.cookie = new SessionCookie({ path: '/', httpOnly: true });
    return session;
  };
  const store = {
    set(id: string, session: object, done: Callback) {
      if (failWith) return done(failWith);
      saved.set(id, { ...session });
      done();
    },
    get(id: string, done: (error: unknown, data?: Record<string, unknown>) => void) {
      done(failWith, saved.get(id));
    },
    // What express-session's Store.createSession does: a new Session object over the data read.
    createSession(request: SessionRequest, data: Record<string, unknown>) {
      request.session = Object.assign(fresh(), data, { cookie: request.session.cookie });
    },
    destroy(id: string, done: Callback) {
      saved.delete(id);
      done(failWith);
    },
    // What the library's store does (session-lifecycle.ts): the old session deleted, a new one generated,
    // and the callback told whether the old one's data may be carried (false: a logout ended it meanwhile).
    regenerate(request: SessionRequest, done: (error?: unknown, carried?: boolean) => void) {
      store.destroy(request.sessionID, (error: unknown) => {
        request.sessionID = `id-${++next}`;
        request.session = fresh();
        done(error, error ? undefined : carried);
      });
    },
  };
  req.sessionStore = store;
  req.session = fresh();
  const calls = () => req.session as unknown as RequestSession;
  return { req, saved, calls };
}

describe('RequestSession', () => {
  it("answers @fastify/session's get, set and sessionId over the session's own data", () => {
    const { req, calls } = requestWithStore();
    calls().set('cart', ['tea']);
    expect(calls().get('cart')).toEqual(['tea']);
    expect((req.session as unknown as Record<string, unknown>).cart).toEqual(['tea']);
    expect(calls().sessionId).toBe('id-0');
    expect(Object.keys(req.session)).toEqual(['cookie', 'cart']); // the calls are not data
  });

  it('saves with a callback (express-session, passport) or as a promise without one', async () => {
    const { saved, calls } = requestWithStore();
    calls().set('views', 1);
    const returned = calls().save(() => undefined);
    expect(returned).toBe(calls());
    calls().set('views', 2);
    await (calls().save() as unknown as Promise<void>);
    expect(saved.get('id-0')).toMatchObject({ views: 2 });
  });

  it('regenerates to a new ID keeping only the listed keys, as a promise', async () => {
    const { req, calls } = requestWithStore();
    calls().set('cart', ['tea']);
    calls().set('user', 'old');
    await (calls().regenerate(['cart']) as unknown as Promise<void>);
    expect(calls().sessionId).toBe('id-1');
    expect(req.sessionID).toBe('id-1');
    expect(calls().get('cart')).toEqual(['tea']);
    expect(calls().get('user')).toBeUndefined();
  });

  it('keeps none of the listed keys when the store answers that the old session ended meanwhile', async () => {
    const { req, calls } = requestWithStore(undefined, false);
    calls().set('cart', ['tea']);
    calls().set('user', 'ada');
    await (calls().regenerate(['cart', 'user']) as unknown as Promise<void>);
    expect(req.sessionID).toBe('id-1');
    expect(Object.keys(req.session)).toEqual(['cookie']);
  });

  it("regenerates with express-session's callback form, keeping nothing", async () => {
    const { calls } = requestWithStore();
    calls().set('cart', ['tea']);
    const failure = await new Promise<unknown>((resolve) => calls().regenerate((error?: unknown) => resolve(error)));
    expect(failure).toBeUndefined();
    expect(calls().sessionId).toBe('id-1');
    expect(calls().get('cart')).toBeUndefined();
  });

  it("rejects the promise with the store's error", async () => {
    const failure = new Error('store down');
    const { calls } = requestWithStore(failure);
    await expect(calls().save()).rejects.toBe(failure);
    await expect(calls().regenerate() as unknown as Promise<void>).rejects.toBe(failure);
  });

  it("answers the library's own errors as Nest's HTTP exceptions, promise or callback, the store's error their cause", async () => {
    const unavailable = new SessionStoreUnavailableError('Redis did not answer');
    for (const failing of [
      () => requestWithStore(unavailable).calls().save() as unknown as Promise<void>,
      () => requestWithStore(unavailable).calls().regenerate() as unknown as Promise<void>,
    ]) {
      const error: unknown = await failing().catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(ServiceUnavailableException);
      expect((error as ServiceUnavailableException).getStatus()).toBe(503);
      expect((error as Error).cause).toBe(unavailable);
    }
    const tooLarge = new SessionTooLargeError(5_000, 1_024);
    const heard = await new Promise<unknown>((resolve) =>
      requestWithStore(tooLarge)
        .calls()
        .save((error?: unknown) => resolve(error)),
    );
    expect(heard).toBeInstanceOf(PayloadTooLargeException);
    expect((heard as Error).cause).toBe(tooLarge);
    const passed = await new Promise<unknown>((resolve) =>
      requestWithStore(unavailable)
        .calls()
        .regenerate((error?: unknown) => resolve(error)),
    );
    expect(passed).toBeInstanceOf(ServiceUnavailableException);
  });

  it("rejects with an Error naming a store's failure that is not an Error", async () => {
    const { calls } = requestWithStore({ code: 'DOWN' });
    const failure: unknown = await (calls().save() as unknown as Promise<void>).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toBe('Session call failed: {"code":"DOWN"}');
  });

  it('hands the callback the error, and answers the session itself, when given a callback', async () => {
    const failure = new Error('store down');
    const { calls } = requestWithStore(failure);
    const session = calls();
    let returned: unknown;
    const heard = await new Promise<unknown>((resolve) => {
      returned = session.save((error?: unknown) => resolve(error));
    });
    expect(heard).toBe(failure);
    expect(returned).toBe(session);
  });

  it('reloads and destroys as promises without a callback, or through the callback, answering the session', async () => {
    const { req, saved, calls } = requestWithStore();
    calls().set('views', 1);
    await (calls().save() as unknown as Promise<void>);
    calls().set('views', 2);
    const before = calls();
    const reloading = before.reload();
    expect(reloading).toBeInstanceOf(Promise);
    await (reloading as unknown as Promise<void>);
    expect(calls()).not.toBe(before);
    expect(calls().get('views')).toBe(1);
    const session = calls();
    let returned: unknown;
    await new Promise<unknown>((resolve) => (returned = session.reload(resolve)));
    expect(returned).toBe(session);

    const destroying = calls().destroy();
    expect(destroying).toBeInstanceOf(Promise);
    await (destroying as unknown as Promise<void>);
    expect(saved.has('id-0')).toBe(false);
    expect(Object.prototype.hasOwnProperty.call(req, 'session')).toBe(false);

    const other = requestWithStore();
    const second = other.calls();
    let answered: unknown;
    const heard = await new Promise<unknown>((resolve) => (answered = second.destroy(resolve)));
    expect(heard).toBeUndefined();
    expect(answered).toBe(second);
  });

  it('reloads a session the store has never held to itself, where express-session fails with "failed to load session"', async () => {
    const { calls } = requestWithStore();
    const session = calls();
    session.set('views', 3);
    await (session.reload() as unknown as Promise<void>);
    expect(calls()).toBe(session);
    expect(calls().get('views')).toBe(3);
  });

  it('rejects a reload or a destroy with the store error', async () => {
    const failure = new Error('store down');
    await expect(requestWithStore(failure).calls().reload()).rejects.toBe(failure);
    await expect(requestWithStore(failure).calls().destroy()).rejects.toBe(failure);
  });

  it('keeps, of the listed keys, only those the session holds itself, never its cookie, with a callback after the list', async () => {
    const { req, calls } = requestWithStore();
    calls().set('cart', ['tea']);
    calls().set('theme', 'dark');
    const oldCookie = req.session.cookie;
    const failure = await new Promise<unknown>((resolve) => calls().regenerate(['cart', 'cookie', 'missing', 'toString'], (error?: unknown) => resolve(error)));
    expect(failure).toBeUndefined();
    expect(calls().sessionId).toBe('id-1');
    expect(req.session.cookie).not.toBe(oldCookie);
    expect(Object.keys(req.session)).toEqual(['cookie', 'cart']);
    expect(calls().get('cart')).toEqual(['tea']);
  });

  it('copies nothing onto the new session when the regenerate failed', async () => {
    const failure = new Error('store down');
    const { req, calls } = requestWithStore(failure);
    calls().set('cart', ['tea']);
    await expect(calls().regenerate(['cart']) as unknown as Promise<void>).rejects.toBe(failure);
    expect(req.sessionID).toBe('id-1'); // the store's regenerate put a new session before failing
    expect(Object.keys(req.session)).toEqual(['cookie']);
  });

  it("passes the check of a session object's shape", () => {
    const { req } = requestWithStore();
    expect(() => checkSessionObject(req.session, true)).not.toThrow();
  });

  it('shows its values when inspected (console.log), its object values included', () => {
    const { req } = requestWithStore();
    const session = req.session as unknown as Record<string, unknown>;
    const state = attachState(session, { stored: new Map([['cart', '["tea"]']]), createdAt: 1, refreshed: true });
    putTrackedValues(session, { cart: ['tea'], views: 2 }, state);
    const shown = inspect(session);
    expect(shown).toMatch(/^Session \{/);
    expect(inspect(session, { depth: 0 })).toContain('cart: [Array]'); // the options reach the view
    expect(shown).toContain("cart: [ 'tea' ]");
    expect(shown).toContain('views: 2');
    expect(shown).not.toContain('Getter');
  });
});
