import { Cookie } from 'express-session';
import { resolveStoreOptions } from '../options/resolve-store-options';
import { FIELD } from '../redis/session-fields';
import type { TouchSessionArgs } from '../redis/scripts';
import { SessionObservers, type SessionObserver } from '../redis/session-observer';
import { SessionContext } from './session-context';
import { SessionSlides, userIdOf } from './session-slides';
import { attachState, type SessionState } from './session-state';
import type { StoredSession, UserIndexKeeper } from './store-ports';

/*
 * The idle timeout's slides (session-slides.ts) over a fake gateway: when a touch sends one, what it
 * sends, what the answer changes in the session's bookkeeping, and what is reported.
 */

const PREFIX = 'sess:';
const IDLE = 30 * 60_000;
const TOUCH_AFTER = 60_000;
const NOW = 1_800_000_000_000;

type TouchStatus = 'touched' | 'moved' | 'gone' | 'expired';

function setup(options: { absoluteTimeout?: number; keeper?: UserIndexKeeper; touch?: () => Promise<{ status: TouchStatus }> } = {}) {
  const touches: TouchSessionArgs[] = [];
  const deletes: string[] = [];
  const deleted: (number | Error)[] = [];
  const gateway = {
    touchSession: jest.fn((args: TouchSessionArgs) => {
      touches.push(args);
      return options.touch ? options.touch() : Promise.resolve({ status: 'touched' as const });
    }),
    deleteKey: jest.fn((redisKey: string) => {
      deletes.push(redisKey);
      const answer = deleted.shift() ?? 1;
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
    }),
  };
  const observer = { sessionEnded: jest.fn(), sessionEvent: jest.fn() } satisfies SessionObserver;
  const observers = new SessionObservers();
  observers.add(observer);
  const settings = resolveStoreOptions({
    client: { defineCommand: () => undefined } as never,
    idleTimeout: IDLE,
    touchAfter: TOUCH_AFTER,
    absoluteTimeout: options.absoluteTimeout,
    prefix: PREFIX,
  });
  const context = new SessionContext(settings, gateway as never, observers, { warn: jest.fn(), error: jest.fn() });
  return { slides: new SessionSlides(context, options.keeper), context, touches, deletes, deleted, observer };
}

/** A session with a browser-session cookie; `state` makes it one read from Redis. */
function session(state?: Partial<SessionState>): StoredSession {
  const CookieClass = Cookie as unknown as new (options?: object) => Cookie;
  const data = { cookie: new CookieClass({ path: '/', httpOnly: true }) } as StoredSession;
  if (state) attachState(data, { stored: new Map(), createdAt: NOW - 1_000, refreshed: false, ...state });
  return data;
}

function keeper(): UserIndexKeeper & { pushExpiry: jest.Mock } {
  return {
    entryOf: jest.fn(),
    moveFor: jest.fn(),
    saveMoving: jest.fn(),
    pushExpiry: jest.fn(() => Promise.resolve('pushed')),
    follow: jest.fn(),
    release: jest.fn(),
  };
}

beforeEach(() => jest.spyOn(Date, 'now').mockReturnValue(NOW));
afterEach(() => jest.restoreAllMocks());

describe('SessionSlides.touch', () => {
  it('slides a session never read to the idle window, whatever Redis holds, stamping nothing', async () => {
    const s = setup();
    await s.slides.touch('abc', session());
    expect(s.touches).toEqual([
      {
        redisKey: s.context.redisKeyOf('abc'),
        expiresAt: NOW + IDLE,
        now: NOW,
        absoluteTimeout: 12 * 60 * 60_000,
        expectedExpiry: undefined,
        lastSeenAt: undefined,
      },
    ]);
  });

  it('sends nothing for a session read from Redis until the slide gains touchAfter, then expects the expiry it read', async () => {
    const s = setup();
    const held = NOW + IDLE - TOUCH_AFTER + 1; // a slide now would gain a millisecond short of touchAfter
    await s.slides.touch('abc', session({ expiresAt: held }));
    expect(s.touches).toEqual([]);
    const due = session({ expiresAt: held - 1 });
    await s.slides.touch('abc', due);
    expect(s.touches).toEqual([expect.objectContaining({ expiresAt: NOW + IDLE, expectedExpiry: held - 1 })]);
  });

  it('slides a session read without an expiry field, expecting none', async () => {
    const s = setup();
    await s.slides.touch('abc', session({ expiresAt: undefined }));
    expect(s.touches).toEqual([expect.objectContaining({ expectedExpiry: null })]);
  });

  it('slides a session whose cookie app code dropped by the idle window', async () => {
    const s = setup();
    const bare = session({ expiresAt: NOW - 120_000 }) as Record<string, unknown>;
    delete bare.cookie;
    await s.slides.touch('abc', bare as StoredSession);
    expect(s.touches).toEqual([expect.objectContaining({ expiresAt: NOW + IDLE })]);
  });

  it('waits for the slide the read sent already instead of sending another', async () => {
    const s = setup();
    let sent!: () => void;
    const sliding = new Promise<void>((resolve) => (sent = resolve));
    let done = false;
    const touched = s.slides.touch('abc', session({ sliding, expiresAt: undefined })).then(() => (done = true));
    await Promise.resolve();
    expect(done).toBe(false);
    sent();
    await touched;
    expect(s.touches).toEqual([]);
  });

  it('never slides past the absolute deadline, counted from when the session was created', async () => {
    const s = setup({ absoluteTimeout: 40 * 60_000 });
    await s.slides.touch('abc', session({ createdAt: NOW - 15 * 60_000, expiresAt: NOW - 120_000 }));
    expect(s.touches).toEqual([expect.objectContaining({ expiresAt: NOW + 25 * 60_000, absoluteTimeout: 40 * 60_000 })]);
    await s.slides.touch('new', session()); // never read: created now, so the idle window comes first
    expect(s.touches[1]).toMatchObject({ expiresAt: NOW + IDLE });
  });
});

describe('SessionSlides.slide', () => {
  it('keeps the new expiry once Redis slid it, and stamps last seen on a session that keeps one', async () => {
    const s = setup();
    const stored = new Map([[FIELD.lastSeenAt, String(NOW - 5_000)]]);
    const state: SessionState = { stored, createdAt: NOW - 10_000, expiresAt: NOW, lastSeenAt: NOW - 5_000, refreshed: false };
    await s.slides.slide('sess:k', state, NOW + IDLE, NOW);
    expect(s.touches[0]).toMatchObject({ lastSeenAt: NOW, expectedExpiry: NOW });
    expect(state).toMatchObject({ expiresAt: NOW + IDLE, lastSeenAt: NOW });
    const without: SessionState = { stored: new Map(), createdAt: NOW - 10_000, expiresAt: NOW, lastSeenAt: 123, refreshed: false };
    await s.slides.slide('sess:k', without, NOW + IDLE, NOW);
    expect(s.touches[1].lastSeenAt).toBeUndefined();
    expect(without.expiresAt).toBe(NOW + IDLE);
    expect(without.lastSeenAt).toBe(123); // a session that keeps no last-seen field: nothing stamped, nothing changed
  });

  it.each(['moved', 'gone', 'expired'] as const)('changes nothing of the bookkeeping when Redis answers %s', async (status) => {
    const s = setup({ touch: () => Promise.resolve({ status }) });
    const state: SessionState = { stored: new Map([[FIELD.lastSeenAt, '1']]), createdAt: NOW - 10_000, expiresAt: NOW, lastSeenAt: 1, refreshed: false };
    await s.slides.slide('sess:k', state, NOW + IDLE, NOW);
    expect(state).toMatchObject({ expiresAt: NOW, lastSeenAt: 1 });
  });

  it('reports a session Redis found expired, with its user when the state knows it', async () => {
    const s = setup({ touch: () => Promise.resolve({ status: 'expired' }) });
    const state: SessionState = { stored: new Map(), createdAt: 0, refreshed: false, indexEntry: { userId: 'u1', digest: 'k' } };
    await s.slides.slide('sess:k', state, NOW + IDLE, NOW);
    await s.slides.slide('sess:j', undefined, NOW + IDLE, NOW);
    expect(s.observer.sessionEnded.mock.calls).toEqual([
      ['expired', 1],
      ['expired', 1],
    ]);
    expect(s.observer.sessionEvent.mock.calls).toEqual([
      [{ type: 'expired', digest: 'k', userId: 'u1' }],
      [{ type: 'expired', digest: 'j', userId: undefined }],
    ]);
    const touched = setup();
    await touched.slides.slide('sess:k', state, NOW + IDLE, NOW);
    expect(touched.observer.sessionEnded).not.toHaveBeenCalled();
  });

  it("pushes the user index's expiry along, waiting for both; without a state, only the slide", async () => {
    const index = keeper();
    let pushed!: () => void;
    index.pushExpiry.mockReturnValueOnce(new Promise<void>((resolve) => (pushed = resolve)));
    const s = setup({ keeper: index });
    const state: SessionState = { stored: new Map(), createdAt: 0, refreshed: false };
    let done = false;
    const sliding = s.slides.slide('sess:k', state, NOW + IDLE, NOW).then(() => (done = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(index.pushExpiry).toHaveBeenCalledWith(state, NOW + IDLE);
    expect(done).toBe(false); // the slide answered; the push did not yet
    pushed();
    await sliding;
    await s.slides.slide('sess:j', undefined, NOW + IDLE, NOW);
    expect(index.pushExpiry).toHaveBeenCalledTimes(1);
  });

  it('rejects for whoever waits when Redis fails, and leaves no unhandled rejection for a slide nobody waits for', async () => {
    const failure = new Error('Redis is away');
    const s = setup({ touch: () => Promise.reject(failure) });
    const unhandled: unknown[] = [];
    const listener = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', listener);
    try {
      void s.slides.slide('sess:k', undefined, NOW + IDLE, NOW); // as a read sends it
      await expect(s.slides.slide('sess:j', undefined, NOW + IDLE, NOW)).rejects.toBe(failure);
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('unhandledRejection', listener);
    }
    expect(unhandled).toEqual([]);
  });
});

describe('SessionSlides.dropPastDeadline', () => {
  it('deletes the key without holding the request up, and reports it expired only when it was there', async () => {
    const s = setup();
    s.deleted.push(1, 0, new Error('Redis is away'));
    expect(s.slides.dropPastDeadline('sess:a')).toBeNull();
    expect(s.slides.dropPastDeadline('sess:b')).toBeNull();
    expect(s.slides.dropPastDeadline('sess:c')).toBeNull();
    await new Promise((resolve) => setImmediate(resolve));
    expect(s.deletes).toEqual(['sess:a', 'sess:b', 'sess:c']);
    expect(s.observer.sessionEvent.mock.calls).toEqual([[{ type: 'expired', digest: 'a', userId: undefined }]]);
    expect(s.observer.sessionEnded).toHaveBeenCalledTimes(1);
  });
});

describe('userIdOf', () => {
  it("answers the logged-in user's id as a string, and undefined for an anonymous session", () => {
    const of = (data: object) => userIdOf(data as StoredSession);
    expect(of({ user: { id: 42 } })).toBe('42');
    expect(of({ user: { id: 'u-1' } })).toBe('u-1');
    expect(of({ user: { id: 0 } })).toBe('0');
    expect(of({ user: { id: null } })).toBeUndefined();
    expect(of({ user: {} })).toBeUndefined();
    expect(of({})).toBeUndefined();
  });
});
