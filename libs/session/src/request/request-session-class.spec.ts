import { inspect } from 'node:util';
import { attachState } from '../store/session-state';
import { checkSessionObject } from '../store/session-validation';
import { putTrackedValues } from '../store/tracked-values';
import { SessionCookie } from '../cookie/session-cookie';
import type { SessionRequest } from './http-platform';
import { RequestSession } from './request-session-class';

type Callback = (error?: unknown) => void;

/** A request with an in-memory store behind it, holding what express-session's Session calls on it. */
function requestWithStore(failWith?: Error) {
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
    destroy(id: string, done: Callback) {
      saved.delete(id);
      done(failWith);
    },
    // What express-session's Store.regenerate does, with the library's `generate` in it.
    regenerate(request: SessionRequest, done: Callback) {
      store.destroy(request.sessionID, (error: unknown) => {
        request.sessionID = `id-${++next}`;
        request.session = fresh();
        done(error);
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
    expect(shown).toContain("cart: [ 'tea' ]");
    expect(shown).toContain('views: 2');
    expect(shown).not.toContain('Getter');
  });
});
