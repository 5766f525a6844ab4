import type { SessionRequest } from './http-platform';
import { answersStoreFailure, noteStoreFailure, noteUnavailable, ownSession, STATE, stateOf, type RequestSessionState } from './request-state';

/** A request's state whose lifecycle reports to `observer` (only what `noteUnavailable` reads). */
function stateReportingTo(observer: object | undefined): RequestSessionState {
  return { lifecycle: { core: { context: { observer } } } } as unknown as RequestSessionState;
}

describe('stateOf', () => {
  it('answers the state the lifecycle put on the request under its symbol, undefined where none was put', () => {
    const state = stateReportingTo(undefined);
    expect(stateOf({ [STATE]: state })).toBe(state);
    expect(stateOf({})).toBeUndefined();
    // A property an app happens to name like the symbol's description is not the state.
    expect(stateOf({ 'nest-redis-session:request': state })).toBeUndefined();
  });
});

describe('ownSession', () => {
  it('answers the session the request holds as its own property', () => {
    const session = { views: 1 } as unknown as SessionRequest['session'];
    expect(ownSession({ session })).toBe(session);
  });

  it('answers undefined for a request without a session, or whose session was deleted (destroyed)', () => {
    expect(ownSession({})).toBeUndefined();
    const req: { session?: object } = { session: {} };
    delete req.session;
    expect(ownSession(req)).toBeUndefined();
  });

  it('never reads an inherited session: a getter that would create one on demand is not called', () => {
    const create = jest.fn(() => ({ created: true }));
    const req = Object.create(Object.defineProperty({}, 'session', { get: create, configurable: true, enumerable: true })) as object;
    expect(ownSession(req)).toBeUndefined();
    expect(create).not.toHaveBeenCalled();
  });
});

describe('noteUnavailable', () => {
  it("counts the 503 with the lifecycle's observer, once per request, whatever state it shares with others", () => {
    const observer = { requestUnavailable: jest.fn() };
    const shared = stateReportingTo(observer); // as requests that came without a session share one pending state
    const [first, second] = [{}, {}];
    noteUnavailable(first, shared);
    noteUnavailable(first, shared);
    expect(observer.requestUnavailable).toHaveBeenCalledTimes(1);
    noteUnavailable(second, shared);
    expect(observer.requestUnavailable).toHaveBeenCalledTimes(2);
  });

  it('does nothing, and throws nothing, without an observer or one that does not count 503s', () => {
    expect(() => noteUnavailable({}, stateReportingTo(undefined))).not.toThrow();
    expect(() => noteUnavailable({}, stateReportingTo({}))).not.toThrow();
  });
});

describe('answersStoreFailure', () => {
  it("takes a 503 as the store's when loading failed, or when a session call of that very request met Redis unavailable", () => {
    const pending = { ...stateReportingTo(undefined), phase: 'pending' as const };
    const [marked, other] = [{ [STATE]: pending }, { [STATE]: pending }];
    expect(answersStoreFailure(marked, pending, 503)).toBe(false);
    noteStoreFailure(marked);
    expect(answersStoreFailure(marked, pending, 503)).toBe(true);
    expect(answersStoreFailure(marked, pending, 500)).toBe(false);
    expect(answersStoreFailure(other, pending, 503)).toBe(false); // the shared state carries no mark
    expect(answersStoreFailure({}, { ...pending, phase: 'failed' }, 503)).toBe(true);
    expect(answersStoreFailure({}, undefined, 503)).toBe(false);
  });
});
