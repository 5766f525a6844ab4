import { attachState, stateOf, type SessionState } from './session-state';

/*
 * Where a session object keeps the store's bookkeeping (session-state.ts): under a symbol, out of its
 * data, and replaceable when a save or a renewal hands the object a new state.
 */

const state = (createdAt: number): SessionState => ({ stored: null, createdAt, refreshed: false });

describe('attachState and stateOf', () => {
  it('keeps the state out of the data: not enumerable, not in JSON', () => {
    const session = { cart: [1] };
    const attached = attachState(session, state(1));
    expect(stateOf(session)).toBe(attached);
    expect(Object.keys(session)).toEqual(['cart']);
    expect(JSON.stringify(session)).toBe('{"cart":[1]}');
    expect(stateOf({})).toBeUndefined();
  });

  it('lets a state be attached again, or assigned, over the one a session holds', () => {
    const session = {};
    attachState(session, state(1));
    const second = attachState(session, state(2));
    expect(stateOf(session)).toBe(second);
    const [symbol] = Object.getOwnPropertySymbols(session);
    const third = state(3);
    (session as Record<symbol, unknown>)[symbol] = third;
    expect(stateOf(session)).toBe(third);
  });
});
