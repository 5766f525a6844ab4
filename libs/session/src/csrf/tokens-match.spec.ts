import { tokensMatch } from './tokens-match';

describe('tokensMatch', () => {
  const token = 'f3b1c2d4e5f60718293a4b5c6d7e8f90-token';

  it('matches an identical token', () => {
    expect(tokensMatch(token, `${token}`)).toBe(true);
  });

  it.each([
    ['a different token of the same length', `${token.slice(0, -1)}X`],
    ['a prefix of the token', token.slice(0, 10)],
    ['a longer token', `${token}x`],
    ['an empty token', ''],
    ['the token in another case', token.toUpperCase()],
  ])('refuses %s', (_what, given) => {
    expect(tokensMatch(token, given)).toBe(false);
  });

  it.each([
    ['no token given', token, undefined],
    ['a non-string token given', token, ['x']],
    ['a number given', '123', 123],
    ['no expected token (the session has none yet)', undefined, ''],
    ['an empty expected token, even against an empty one', '', ''],
    ['a non-string expected token', { toString: (): string => token }, token],
  ])('never matches with %s', (_what, expected, given) => {
    expect(tokensMatch(expected, given)).toBe(false);
  });
});
