import { Cookie } from 'express-session';
import { SessionTooLargeError } from '../errors/session-too-large.error';
import { SessionDataError } from '../errors/session-data.error';
import { resolveStoreOptions } from '../options/resolve-store-options';
import { FIELD } from '../redis/session-fields';
import { SessionObservers, type SessionObserver } from '../redis/session-observer';
import { SessionContext } from './session-context';
import type { SessionForwarding } from './session-forwarding';
import { attachState, stateOf, type SessionState, type UserIndexMove } from './session-state';
import { SessionWriter } from './session-writer';
import { decodeSession } from './session-codec';
import { countedLength } from './left-sealed';
import { putTrackedValues } from './tracked-values';
import type { SessionSave, StoredSession, UserIndexKeeper } from './store-ports';

/*
 * The end-of-request save (session-writer.ts) over a fake gateway: what each save sends (the delta,
 * its mode, its slide threshold, the stamps), what it does with each answer, and what it reports.
 */

const PREFIX = 'sess:';
const IDLE = 30 * 60_000;
const TOUCH_AFTER = 60_000;
type Status = 'written' | 'gone' | 'expired' | 'moved';

interface Setup {
  writer: SessionWriter;
  saves: SessionSave[];
  statuses: Status[];
  successorOf: jest.Mock;
  context: SessionContext;
  /** The Redis key of a session ID, and its digest (the key without the prefix). */
  key(id: string): string;
  digest(id: string): string;
}

interface SetupOptions {
  observer?: SessionObserver;
  keeper?: UserIndexKeeper;
  renewal?: { interval: number; grace: number };
  maxSessionBytes?: number;
  encryption?: { keys: Buffer[] };
}

function setup(more: SetupOptions = {}): Setup {
  const saves: SessionSave[] = [];
  const statuses: Status[] = [];
  const gateway = {
    saveSession: jest.fn((save: SessionSave) => {
      saves.push({ ...save, set: [...save.set], del: [...save.del] });
      return Promise.resolve({ status: statuses.shift() ?? 'written' });
    }),
  };
  const client = { defineCommand: () => undefined };
  const resolved = resolveStoreOptions({
    client: client as never,
    idleTimeout: IDLE,
    touchAfter: TOUCH_AFTER,
    maxSessionBytes: more.maxSessionBytes,
    prefix: PREFIX,
    encryption: more.encryption,
  });
  const settings = { ...resolved, renewal: more.renewal };
  const observers = new SessionObservers();
  observers.add(more.observer);
  const context = new SessionContext(settings, gateway as never, observers, { warn: jest.fn(), error: jest.fn() });
  const successorOf = jest.fn();
  const forwarding = { successorOf } as unknown as SessionForwarding;
  const key = (id: string) => context.redisKeyOf(id);
  const digest = (id: string) => context.digestOfKey(key(id));
  return { writer: new SessionWriter(context, forwarding, more.keeper), context, saves, statuses, successorOf, key, digest };
}

/** The store's cookie template as the options above make it (a browser-session cookie): stored as no field. */
const TEMPLATE = JSON.parse(
  new SessionContext(
    resolveStoreOptions({ client: { defineCommand: () => undefined } as never, idleTimeout: IDLE, touchAfter: TOUCH_AFTER }),
    {} as never,
    new SessionObservers(),
    console,
  ).cookieTemplateJson!,
) as object;

/** A session with the template's cookie, unless `cookie` adds settings of its own. */
function session(data: Record<string, unknown> = {}, cookie: object = {}): StoredSession {
  const CookieClass = Cookie as unknown as new (options?: object) => Cookie;
  return { cookie: new CookieClass({ ...TEMPLATE, ...cookie }), ...data };
}

/** The fields a save sets, as a record (each field once). */
function setOf(save: SessionSave): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let i = 0; i < save.set.length; i += 2) fields[save.set[i]] = save.set[i + 1];
  return fields;
}

/** How many times a save sets `field`. */
function timesSet(save: SessionSave, field: string): number {
  return save.set.filter((value, i) => i % 2 === 0 && value === field).length;
}

/** A session saved once already (a replace), so its next save is a patch. */
async function stored(s: Setup, id: string, data: Record<string, unknown> = {}, cookie: object = {}): Promise<StoredSession> {
  const saved = session(data, cookie);
  await s.writer.saveChanges(id, saved);
  return saved;
}

function fakeKeeper(move?: UserIndexMove): UserIndexKeeper & { [K in 'moveFor' | 'saveMoving' | 'pushExpiry' | 'release']: jest.Mock } {
  return {
    entryOf: jest.fn(),
    moveFor: jest.fn(() => move),
    saveMoving: jest.fn(() => Promise.resolve('written' as const)),
    pushExpiry: jest.fn(() => Promise.resolve('pushed')),
    follow: jest.fn(),
    release: jest.fn(() => Promise.resolve()),
  };
}

afterEach(() => jest.restoreAllMocks());

describe('SessionWriter.saveChanges: what a save sends', () => {
  it('replaces a new session whole, with no slide threshold, and patches it after with touchAfter as the threshold', async () => {
    const s = setup();
    const saved = await stored(s, 'a', { n: 1 });
    expect(s.saves[0]).toMatchObject({ redisKey: s.key('a'), mode: 'replace', minGain: 0 });
    expect(s.saves[0].set).not.toContain(FIELD.cookie);
    saved.n = 2;
    await s.writer.saveChanges('a', saved);
    expect(s.saves[1]).toMatchObject({ mode: 'patch', minGain: TOUCH_AFTER, del: [] });
    expect(setOf(s.saves[1])).toEqual({ n: '2' });
  });

  it("slides at once (threshold 0) a patch that sets the cookie's own settings, or deletes them", async () => {
    const s = setup();
    const saved = await stored(s, 'a', { n: 1 });
    saved.cookie.maxAge = IDLE / 2; // a setting of its own: the cookie field is set
    saved.n = 2;
    await s.writer.saveChanges('a', saved);
    expect(s.saves[1].set).toContain(FIELD.cookie);
    expect(s.saves[1].minGain).toBe(0);

    const own = await stored(s, 'b', { n: 1 }, { maxAge: IDLE / 2 });
    own.cookie = session().cookie; // back to the template: the cookie field is deleted, nothing set
    await s.writer.saveChanges('b', own);
    const patch = s.saves[3];
    expect(patch).toMatchObject({ mode: 'patch', del: [FIELD.cookie], minGain: 0 });
  });

  it('gives a new session its issue time with renewal on, never without it, nor to a patch', async () => {
    const renewing = setup({ renewal: { interval: 600_000, grace: 0 } });
    const before = Date.now();
    const saved = await stored(renewing, 'a', { n: 1 });
    const issuedAt = Number(setOf(renewing.saves[0])[FIELD.issuedAt]);
    expect(issuedAt).toBeGreaterThanOrEqual(before);
    expect(issuedAt).toBeLessThanOrEqual(Date.now());
    expect(stateOf(saved)!.stored!.get(FIELD.issuedAt)).toBe(String(issuedAt));
    saved.n = 2;
    await renewing.writer.saveChanges('a', saved);
    expect(setOf(renewing.saves[1])).toEqual({ n: '2' });

    const plain = setup();
    await stored(plain, 'a', { n: 1 });
    expect(setOf(plain.saves[0])[FIELD.issuedAt]).toBeUndefined();
  });

  it("stamps a logged-in session's last-seen time on each save, keeping the rest of the delta, and leaves others unstamped", async () => {
    const s = setup();
    const saved = session({ n: 1 });
    attachState(saved, { stored: new Map([[FIELD.lastSeenAt, '5']]), createdAt: 1, refreshed: true, redisKey: s.key('a') });
    const before = Date.now();
    saved.n = 2;
    await s.writer.saveChanges('a', saved);
    const sent = setOf(s.saves[0]);
    expect(sent.n).toBe('2');
    expect(Number(sent[FIELD.lastSeenAt])).toBeGreaterThanOrEqual(before);
    expect(stateOf(saved)!.stored!.get(FIELD.lastSeenAt)).toBe(sent[FIELD.lastSeenAt]);

    const anonymous = await stored(s, 'b', { n: 1 });
    anonymous.n = 2;
    await s.writer.saveChanges('b', anonymous);
    expect(setOf(s.saves[2])).toEqual({ n: '2' });
    expect(setOf(s.saves[1])[FIELD.lastSeenAt]).toBeUndefined();
  });

  it('keeps the last-seen time a login sets in the same save, sent once', async () => {
    const s = setup();
    const saved = session({ n: 1 });
    attachState(saved, { stored: null, createdAt: 1, refreshed: false, pendingMeta: { [FIELD.lastSeenAt]: '7' } });
    await s.writer.saveChanges('a', saved);
    expect(timesSet(s.saves[0], FIELD.lastSeenAt)).toBe(1);
    expect(setOf(s.saves[0])[FIELD.lastSeenAt]).toBe('7');
    expect(stateOf(saved)!.pendingMeta).toBeUndefined();
  });

  it('writes the same object saved under a new ID whole, and patches one whose state names no key', async () => {
    const s = setup();
    const saved = await stored(s, 'a', { n: 1 });
    await s.writer.saveChanges('b', saved);
    expect(s.saves[1]).toMatchObject({ redisKey: s.key('b'), mode: 'replace' });
    expect(setOf(s.saves[1]).n).toBe('1');
    expect(stateOf(saved)!.redisKey).toBe(s.key('b'));

    const unnamed = session({ n: 1 });
    attachState(unnamed, { stored: new Map([['n', '1']]), createdAt: 1, refreshed: false });
    unnamed.n = 2;
    await s.writer.saveChanges('c', unnamed);
    expect(s.saves[2]).toMatchObject({ redisKey: s.key('c'), mode: 'patch' });
  });

  it('refuses a session past maxSessionBytes as a rejected promise, and saves one of exactly that size', async () => {
    const s = setup({ maxSessionBytes: 2 }); // key "n" and JSON "1": 2 bytes
    await expect(s.writer.saveChanges('a', session({ n: 1 }))).resolves.toBeUndefined();
    const refused = s.writer.saveChanges('b', session({ n: 10 }));
    await expect(refused).rejects.toBeInstanceOf(SessionTooLargeError);
    expect(s.saves).toHaveLength(1);
  });

  describe('under encryption, with values a read left sealed', () => {
    const encryption = { keys: [Buffer.alloc(32, 3)] };
    // "é" is one character of JSON but two bytes of plaintext: the bound from the sealed length counts two.
    const value = 'é'.repeat(100);

    /** The hash a first save of `{ v: value }` under "a" leaves, and the state it leaves the session. */
    async function sealedHash(): Promise<{ fields: Record<string, string>; state: SessionState }> {
      const s = setup({ encryption });
      const saved = session({ v: value });
      await s.writer.saveChanges('a', saved);
      return { fields: { ...setOf(s.saves[0]), [FIELD.expiresAt]: String(Date.now() + IDLE) }, state: stateOf(saved)! };
    }

    /** The session a request gets from that hash: read as the request lifecycle reads it, each value left sealed. */
    function requestRead(s: Setup, fields: Record<string, string>): StoredSession {
      const { data, state } = decodeSession(fields, s.context.cookieTemplateJson, Date.now(), s.context.sealing.sealingFor(s.key('a')), s.context);
      state.redisKey = s.key('a');
      const request = { cookie: data.cookie } as StoredSession;
      attachState(request, state);
      putTrackedValues(request, data, state);
      expect(state.stored!.get('v')).toBe(fields.v); // left sealed
      return request;
    }

    it('keeps in the state the sealed strings a save wrote', async () => {
      const { fields, state } = await sealedHash();
      expect(fields.v).not.toContain('é');
      expect(state.held!.get('v')).toBe(fields.v);
    });

    it('counts a value left sealed by its opened JSON once the bound from its sealed length passes the limit', async () => {
      const { fields } = await sealedHash();
      const s = setup({ encryption, maxSessionBytes: 150 });
      const request = requestRead(s, fields);
      request.n = 1; // "v" (1) + its JSON (102) + "n" (1) + "1" (1): 105, within 150; the bound counts about 200 for "v"
      await expect(s.writer.saveChanges('a', request)).resolves.toBeUndefined();
      expect(Object.keys(setOf(s.saves[0]))).toEqual(['n']);
    });

    it('opens no value left sealed while the bound stays within the limit, up to the limit itself', async () => {
      const { fields } = await sealedHash();
      const bound = 'v'.length + countedLength(fields.v) + 'n'.length + '1'.length;
      const s = setup({ encryption, maxSessionBytes: bound });
      const request = requestRead(s, fields);
      const open = jest.spyOn(stateOf(request)!.opening!.sealer, 'open');
      request.n = 1;
      await expect(s.writer.saveChanges('a', request)).resolves.toBeUndefined();
      expect(open).not.toHaveBeenCalled();
      expect(stateOf(request)!.stored!.get('v')).toBe(fields.v);
    });
  });

  it('answers a session it cannot save with a rejected promise, never a throw', async () => {
    const s = setup();
    const broken = { cookie: null } as unknown as StoredSession;
    let answer: Promise<void> | null = null;
    expect(() => (answer = s.writer.saveChanges('a', broken))).not.toThrow();
    await expect(answer).rejects.toBeInstanceOf(SessionDataError);
  });
});

describe('SessionWriter.saveChanges: the read-only request', () => {
  it('answers null, at once, for an unchanged session whose read owed no slide, and the slide the read sent when it did', async () => {
    const s = setup();
    const saved = await stored(s, 'a', { n: 1 });
    expect(s.writer.saveChanges('a', saved)).toBeNull();
    const sliding = Promise.resolve();
    stateOf(saved)!.sliding = sliding;
    expect(s.writer.saveChanges('a', saved)).toBe(sliding);
    expect(s.saves).toHaveLength(1);
  });

  it('writes an unchanged session that still owes a slide, or is not stored yet', async () => {
    const s = setup();
    const saved = await stored(s, 'a', { n: 1 });
    stateOf(saved)!.refreshed = false;
    await s.writer.saveChanges('a', saved);
    expect(s.saves).toHaveLength(2);
    expect(stateOf(saved)!.refreshed).toBe(true);
  });

  it('writes an unchanged session whose renewal is due, or due within the grace, and not one that is not', async () => {
    const s = setup({ renewal: { interval: 600_000, grace: 60_000 } });
    const saved = await stored(s, 'a', { n: 1 });
    expect(s.writer.saveChanges('a', saved)).toBeNull();
    const state = stateOf(saved)!;
    state.stored!.set(FIELD.issuedAt, String(Date.now() - 570_000)); // due in 30 s: within the grace
    const due = s.writer.saveChanges('a', saved);
    expect(due).not.toBeNull();
    await due;
    expect(s.saves).toHaveLength(2);
  });

  it('writes an unchanged session whose user index entry must move', async () => {
    const keeper = fakeKeeper();
    const s = setup({ keeper });
    const saved = await stored(s, 'a', { n: 1 });
    const move = { join: { userId: 'u', digest: s.digest('a') } };
    keeper.moveFor.mockReturnValueOnce(move);
    await s.writer.saveChanges('a', saved);
    expect(keeper.moveFor).toHaveBeenLastCalledWith(saved, stateOf(saved), s.digest('a'));
    expect(keeper.saveMoving).toHaveBeenCalledTimes(1);
    expect(keeper.saveMoving.mock.calls[0][1]).toBe(move);
    expect(keeper.saveMoving.mock.calls[0][2]).toBe(stateOf(saved));
    expect(s.saves).toHaveLength(1); // the first save only: the move went through the keeper
  });
});

describe('SessionWriter.abandon: a session a regenerate made, ended before it was stored', () => {
  function regenerated(s: Setup, state: Partial<SessionState>): StoredSession {
    const data = session({});
    attachState(data, { stored: null, createdAt: Date.now(), refreshed: false, previousDigest: s.digest('old'), ...state });
    return data;
  }

  it("takes the index entry it was to move out of its user's index, once, and announces the end", async () => {
    const keeper = fakeKeeper();
    const events: unknown[] = [];
    const s = setup({ keeper, observer: { sessionEvent: (event) => events.push(event) } });
    const entry = { userId: 'u', digest: s.digest('old') };
    const data = regenerated(s, { indexEntry: entry });
    await s.writer.abandon(data);
    expect(keeper.release).toHaveBeenCalledWith(entry);
    expect(stateOf(data)!.indexEntry).toBeUndefined();
    expect(events).toEqual([{ type: 'destroyed', digest: s.digest('old'), userId: 'u' }]);
    expect(s.writer.abandon(data)).toBeUndefined(); // announced and released already
    expect(keeper.release).toHaveBeenCalledTimes(1);
  });

  it('releases nothing for a session that was stored, or that left no logged-in ID', () => {
    const keeper = fakeKeeper();
    const s = setup({ keeper });
    expect(s.writer.abandon(regenerated(s, {}))).toBeUndefined();
    expect(s.writer.abandon(regenerated(s, { stored: new Map(), indexEntry: { userId: 'u', digest: s.digest('a') } }))).toBeUndefined();
    expect(keeper.release).not.toHaveBeenCalled();
  });
});

describe('SessionWriter: the expiry a save slides and the user index push', () => {
  it("pushes the user index's expiry along a save that slides, not one that does not, nor one that moves the entry", async () => {
    const keeper = fakeKeeper();
    const s = setup({ keeper });
    const saved = await stored(s, 'a', { n: 1 });
    expect(keeper.pushExpiry).toHaveBeenCalledTimes(1); // the replace
    const state = stateOf(saved)!;
    const firstExpiry = state.expiresAt!;
    expect(firstExpiry).toBe(s.saves[0].expiresAt);

    // A patch a second later gains a second, less than touchAfter: no slide. The clock moves so that
    // the expiry this save computes differs from the one Redis keeps, and the state must keep the latter.
    const later = jest.spyOn(Date, 'now').mockReturnValue(Date.now() + 1_000);
    saved.n = 2;
    try {
      await s.writer.saveChanges('a', saved);
    } finally {
      later.mockRestore();
    }
    expect(s.saves[1].expiresAt).toBeGreaterThan(firstExpiry);
    expect(keeper.pushExpiry).toHaveBeenCalledTimes(1);
    expect(state.expiresAt).toBe(firstExpiry);

    state.expiresAt = Date.now() - 1; // long due
    saved.n = 3;
    await s.writer.saveChanges('a', saved);
    expect(keeper.pushExpiry).toHaveBeenCalledTimes(2);
    expect(keeper.pushExpiry).toHaveBeenLastCalledWith(state, s.saves[2].expiresAt);
    expect(state.expiresAt).toBe(s.saves[2].expiresAt);

    keeper.moveFor.mockReturnValueOnce({ join: { userId: 'u', digest: s.digest('a') } });
    state.expiresAt = Date.now() - 1;
    saved.n = 4;
    await s.writer.saveChanges('a', saved);
    expect(keeper.pushExpiry).toHaveBeenCalledTimes(2);
  });

  it('counts a save under a new ID as a slide, even to the expiry the session had: the push goes along', async () => {
    const keeper = fakeKeeper();
    const s = setup({ keeper });
    const saved = await stored(s, 'a', { n: 1 }, { expires: new Date(Date.now() + 10 * 60_000) }); // a fixed expiry
    await s.writer.saveChanges('b', saved);
    expect(s.saves[1]).toMatchObject({ mode: 'replace', expiresAt: s.saves[0].expiresAt });
    expect(keeper.pushExpiry).toHaveBeenCalledTimes(2);
    expect(keeper.pushExpiry).toHaveBeenLastCalledWith(stateOf(saved), s.saves[1].expiresAt);
  });
});

describe('SessionWriter: the answers of a save', () => {
  it('leaves the state as it was when the session was destroyed meanwhile (gone)', async () => {
    const s = setup();
    const saved = session({ n: 1 });
    const state = attachState(saved, { stored: null, createdAt: 1, refreshed: false, loggingIn: true, previousDigest: 'old' });
    s.statuses.push('gone');
    await s.writer.saveChanges('a', saved);
    expect(state).toMatchObject({ stored: null, refreshed: false, loggingIn: true, previousDigest: 'old' });
    expect(state.redisKey).toBeUndefined();
  });

  it('after a write, the state describes what Redis holds under the key', async () => {
    const s = setup();
    const saved = session({ n: 1 });
    const state = attachState(saved, {
      stored: null,
      createdAt: 1,
      refreshed: false,
      loggingIn: true,
      previousDigest: 'old',
      pendingMeta: { [FIELD.ip]: '1.2.3.4' },
    });
    await s.writer.saveChanges('a', saved);
    expect(state).toMatchObject({ refreshed: true, redisKey: s.key('a'), expiresAt: s.saves[0].expiresAt });
    expect(state.loggingIn).toBeUndefined();
    expect(state.previousDigest).toBeUndefined();
    expect(state.pendingMeta).toBeUndefined();
    expect(Object.fromEntries(state.stored!)).toMatchObject({ n: '1', [FIELD.ip]: '1.2.3.4' });
  });

  it("writes the same changes to a renewed session's successor, and names it in the state", async () => {
    const s = setup();
    const saved = await stored(s, 'a', { n: 1 });
    const state = stateOf(saved)!;
    state.indexEntry = { userId: 'u', digest: s.digest('a') };
    saved.n = 2;
    s.statuses.push('moved');
    s.successorOf.mockResolvedValueOnce('b');
    await s.writer.saveChanges('a', saved);
    expect(s.successorOf).toHaveBeenCalledWith('a');
    expect(s.saves[2]).toMatchObject({ redisKey: s.key('b'), mode: 'patch' });
    expect(setOf(s.saves[2])).toEqual({ n: '2' });
    expect(state).toMatchObject({ renewedId: 'b', redisKey: s.key('b'), indexEntry: { userId: 'u', digest: s.digest('b') } });
  });

  it('drops the write of a session renewed and then destroyed', async () => {
    const s = setup();
    const saved = await stored(s, 'a', { n: 1 });
    saved.n = 2;
    s.statuses.push('moved');
    s.successorOf.mockResolvedValueOnce(undefined);
    await s.writer.saveChanges('a', saved);
    expect(s.saves).toHaveLength(2);
    expect(stateOf(saved)!.renewedId).toBeUndefined();
    expect(stateOf(saved)!.indexEntry).toBeUndefined();
  });
});

describe('SessionWriter: what a save reports', () => {
  const USER = { user: { id: 'now' } };

  it('reports a session stored for the first time as created, under its digest, and then only as seen', async () => {
    const observer = { sessionCreated: jest.fn(), sessionEvent: jest.fn(), sessionSeen: jest.fn(), sessionEnded: jest.fn() };
    const s = setup({ observer });
    const saved = await stored(s, 'a', USER);
    expect(observer.sessionCreated).toHaveBeenCalledTimes(1);
    expect(observer.sessionEvent).toHaveBeenCalledWith({ type: 'created', digest: s.digest('a'), userId: 'now', previousDigest: undefined });
    expect(observer.sessionSeen).toHaveBeenLastCalledWith(s.digest('a'), 'now');
    saved.n = 1;
    await s.writer.saveChanges('a', saved);
    expect(observer.sessionCreated).toHaveBeenCalledTimes(1);
    expect(observer.sessionEvent).toHaveBeenCalledTimes(1);
    expect(observer.sessionSeen).toHaveBeenCalledTimes(2);
    expect(observer.sessionEnded).not.toHaveBeenCalled();
  });

  it("reports a login's save as a login, with the digest it leaves and the user of its index entry", async () => {
    const observer = { sessionEvent: jest.fn() };
    const s = setup({ observer });
    const saved = session(USER);
    attachState(saved, {
      stored: null,
      createdAt: 1,
      refreshed: false,
      loggingIn: true,
      previousDigest: 'old',
      indexEntry: { userId: 'before', digest: s.digest('x') },
    });
    await s.writer.saveChanges('a', saved);
    expect(observer.sessionEvent).toHaveBeenCalledWith({ type: 'login', digest: s.digest('a'), userId: 'before', previousDigest: 'old' });
  });

  it('reports a session found expired by its save as expired, and as nothing else', async () => {
    const observer = { sessionEvent: jest.fn(), sessionEnded: jest.fn(), sessionCreated: jest.fn(), sessionSeen: jest.fn() };
    const s = setup({ observer });
    s.statuses.push('expired', 'expired');
    await s.writer.saveChanges('a', session(USER));
    expect(observer.sessionEnded).toHaveBeenCalledWith('expired', 1);
    expect(observer.sessionEvent).toHaveBeenCalledWith({ type: 'expired', digest: s.digest('a'), userId: 'now' });
    expect(observer.sessionCreated).not.toHaveBeenCalled();
    expect(observer.sessionSeen).not.toHaveBeenCalled();

    const indexed = session(USER);
    attachState(indexed, { stored: null, createdAt: 1, refreshed: false, indexEntry: { userId: 'before', digest: s.digest('b') } });
    await s.writer.saveChanges('b', indexed);
    expect(observer.sessionEvent).toHaveBeenLastCalledWith({ type: 'expired', digest: s.digest('b'), userId: 'before' });
  });

  it('saves with an observer that has none of the hooks, and with no observer at all', async () => {
    const partial = setup({ observer: {} });
    partial.statuses.push('expired');
    await expect(partial.writer.saveChanges('a', session(USER))).resolves.toBeUndefined();
    await expect(stored(partial, 'b', USER)).resolves.toBeDefined();
    const none = setup();
    await expect(stored(none, 'a', USER)).resolves.toBeDefined();
    const state: SessionState = stateOf(await stored(none, 'b'))!;
    expect(state.refreshed).toBe(true);
  });
});
