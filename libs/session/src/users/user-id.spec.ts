import { defaultSessionUserId, indexUserIdOf } from './user-id';

describe('defaultSessionUserId', () => {
  it("finds the library's own session.user.id first, then passport's passport.user", () => {
    expect(defaultSessionUserId({ user: { id: 'ada' }, passport: { user: 'bob' } } as never)).toBe('ada');
    expect(defaultSessionUserId({ user: { id: 7 } } as never)).toBe(7);
    expect(defaultSessionUserId({ passport: { user: 'bob' } } as never)).toBe('bob');
    expect(defaultSessionUserId({ passport: { user: 0 } } as never)).toBe(0);
  });

  it('answers undefined for an anonymous session, a logged-out passport session, or a serialized object', () => {
    expect(defaultSessionUserId({} as never)).toBeUndefined();
    expect(defaultSessionUserId({ passport: {} } as never)).toBeUndefined();
    expect(defaultSessionUserId({ passport: { user: { id: 'bob' } } } as never)).toBeUndefined();
    expect(defaultSessionUserId({ user: { name: 'no id' } } as never)).toBeUndefined();
  });
});

describe('indexUserIdOf', () => {
  it('keys the index by the id as a string', () => {
    expect(indexUserIdOf(() => 42, {})).toBe('42');
    expect(indexUserIdOf(() => 'ada', {})).toBe('ada');
    expect(indexUserIdOf(() => 'ada \uD83D\uDE00', {})).toBe('ada \uD83D\uDE00');
    expect(indexUserIdOf(() => undefined, {})).toBeUndefined();
    expect(indexUserIdOf(() => null as never, {})).toBeUndefined();
  });

  it.each([
    ['', 'got ""'],
    [{ id: 1 }, 'got an object'],
    [Number.NaN, 'got NaN'],
    [Number.POSITIVE_INFINITY, 'got Infinity'],
    [true, 'got true'],
    // No URI encoding exists for a lone surrogate, so no index key either; a pair (an emoji) is fine.
    ['user-\uD800', 'got "user-\\\\ud800"'], // the message shows the escape; the pattern escapes its backslash
    ['\uDC00user', 'got "\\\\udc00user"'],
  ])('refuses %p from a userId option, naming it', (answer, named) => {
    expect(() => indexUserIdOf(() => answer as never, {})).toThrow(/option "users\.id" must return/);
    // The message ends with what the function answered, so the app's author can tell which case failed.
    expect(() => indexUserIdOf(() => answer as never, {})).toThrow(new RegExp(`; ${named}$`));
  });
});
