import crypto from 'node:crypto';
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

/**
 * Both answers above would also come from `expected === given`: what tells them apart is the time a
 * wrong guess takes, which a test cannot measure reliably. So this checks the means instead: every
 * comparison of two tokens goes through `crypto.timingSafeEqual`, given two buffers of one length
 * whatever the tokens' lengths (it throws on unequal ones), and its answer is the one returned.
 */
describe('tokensMatch compares in constant time', () => {
  let compare: jest.SpiedFunction<typeof crypto.timingSafeEqual>;

  beforeEach(() => {
    compare = jest.spyOn(crypto, 'timingSafeEqual');
  });

  afterEach(() => {
    compare.mockRestore();
  });

  it.each([
    ['an identical token', 'c2f1a8e0b7d6-token', 'c2f1a8e0b7d6-token', true],
    ['a token differing in its last character', 'c2f1a8e0b7d6-token', 'c2f1a8e0b7d6-tokeN', false],
    ['a much shorter token', 'c2f1a8e0b7d6-token', 'c2', false],
    ['a much longer token', 'c2f1a8e0b7d6-token', 'c2f1a8e0b7d6-token'.repeat(20), false],
  ])('answers through crypto.timingSafeEqual for %s', (_what, expected, given, match) => {
    let answer: boolean | undefined;
    expect(() => (answer = tokensMatch(expected, given))).not.toThrow();
    expect(answer).toBe(match);
    expect(compare).toHaveBeenCalledTimes(1);
    const [a, b] = compare.mock.calls[0] as [Buffer, Buffer];
    expect(a.length).toBe(b.length);
    expect(compare.mock.results[0]).toEqual({ type: 'return', value: match });
  });

  it('compares buffers of the same length whatever the tokens lengths', () => {
    tokensMatch('short', 'x');
    tokensMatch('a'.repeat(500), 'b'.repeat(3));
    expect(compare).toHaveBeenCalledTimes(2);
    const lengths = compare.mock.calls.flatMap(([a, b]) => [(a as Buffer).length, (b as Buffer).length]);
    expect(new Set(lengths).size).toBe(1);
  });

  it('decides with timingSafeEqual: its answer is the one returned', () => {
    compare.mockReturnValueOnce(false);
    expect(tokensMatch('same-token', 'same-token')).toBe(false);
    compare.mockReturnValueOnce(true);
    expect(tokensMatch('one-token', 'another-token')).toBe(true);
  });
});
