import { resolveStoreOptions } from '../options/resolve-store-options';
import { UnopenableSessionError } from './session-codec';
import { SessionSealing } from './session-sealing';

/*
 * Values sealed at rest (session-sealing.ts): passed through without `encryption`, sealed and opened
 * with it, and a session whose values do not open logged once, within a bounded memory.
 */

const KEY = 'sess:aaaaaaaabbbbbbbb';

function sealing(encrypted: boolean) {
  const warn = jest.fn();
  const { encryption } = resolveStoreOptions({
    client: { defineCommand: () => undefined } as never,
    encryption: encrypted ? { keys: [Buffer.alloc(32, 7)] } : undefined,
  });
  const digestOfKey = (redisKey: string) => redisKey.slice('sess:'.length);
  return { sealing: new SessionSealing(encryption, digestOfKey, { warn }), warn };
}

describe('SessionSealing without encryption', () => {
  it('seals nothing and opens nothing: Redis holds the JSON itself', () => {
    const { sealing: plain } = sealing(false);
    expect(plain.sealer).toBeUndefined();
    expect(plain.sealingFor(KEY)).toBeUndefined();
    expect(plain.sealValue(KEY, 'cart', '{"n":1}')).toBe('{"n":1}');
    expect(plain.openValue(KEY, 'cart', '{"n":1}')).toBe('{"n":1}');
    expect(plain.openValue(KEY, 'cart', '~not sealed, not opened')).toBe('~not sealed, not opened');
  });
});

describe('SessionSealing under encryption', () => {
  it("seals a field's JSON for this session and field, and opens it back; an absent value stays absent", () => {
    const { sealing: sealed } = sealing(true);
    expect(sealed.sealingFor(KEY)).toEqual({ sealer: sealed.sealer, redisKey: KEY });
    const held = sealed.sealValue(KEY, 'cart', '{"n":1}')!;
    expect(held).toMatch(/^~/);
    expect(held).not.toContain('"n"');
    expect(sealed.openValue(KEY, 'cart', held)).toBe('{"n":1}');
    expect(sealed.sealValue(KEY, 'cart', undefined)).toBeUndefined();
    expect(sealed.openValue(KEY, 'cart', undefined)).toBeUndefined();
  });

  it('refuses a value copied to another field or session, logging the session once with its digest cut short', () => {
    const { sealing: sealed, warn } = sealing(true);
    const held = sealed.sealValue(KEY, 'cart', '{"n":1}')!;
    expect(() => sealed.openValue(KEY, 'user', held)).toThrow(UnopenableSessionError);
    expect(() => sealed.openValue(KEY, 'cart', `${held.slice(0, -2)}AA`)).toThrow(UnopenableSessionError);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0][0]).toContain('session aaaaaaaa… in Redis: field "user" does not authenticate');
    expect(() => sealed.openValue('sess:ccccccccdddd', 'cart', held)).toThrow(UnopenableSessionError);
    expect(warn).toHaveBeenCalledTimes(2);
    expect(warn.mock.calls[1][0]).toContain('session cccccccc…');
  });

  it('lets an error that is not about opening through, unlogged', () => {
    const { sealing: sealed, warn } = sealing(true);
    const bug = new TypeError('a bug in the sealer');
    jest.spyOn(sealed.sealer!, 'open').mockImplementation(() => {
      throw bug;
    });
    expect(() => sealed.openValue(KEY, 'cart', '~anything')).toThrow(bug);
    expect(warn).not.toHaveBeenCalled();
  });

  it('logs a session whose value does not open once, whichever way it is found, and answers no session', () => {
    const { sealing: sealed, warn } = sealing(true);
    sealed.ignoreUnopenableKey(KEY, 'cart', 'field "cart" does not authenticate');
    expect(warn.mock.calls[0][0]).toContain('session key "cart" of session aaaaaaaa…');
    expect(sealed.ignoreUnopenable(KEY, 'again')).toBeNull();
    sealed.ignoreUnopenableKey(KEY, 'user', 'again');
    expect(warn).toHaveBeenCalledTimes(1);
    expect(sealed.ignoreUnopenable('sess:eeeeeeeeffff', 'field "cart" is not sealed')).toBeNull();
    expect(warn).toHaveBeenCalledTimes(2);
    expect(warn.mock.calls[1][0]).toContain('Ignoring session eeeeeeee… in Redis: field "cart" is not sealed');
  });

  it('forgets the sessions it reported once it has remembered 10,000, so memory stays bounded', () => {
    const { sealing: sealed, warn } = sealing(true);
    for (let i = 0; i < 10_000; i++) sealed.ignoreUnopenable(`sess:${i}`, 'x');
    expect(warn).toHaveBeenCalledTimes(10_000);
    sealed.ignoreUnopenable('sess:0', 'x'); // still remembered: the set is full, not past it
    expect(warn).toHaveBeenCalledTimes(10_000);
    sealed.ignoreUnopenable('sess:10000', 'x'); // the 10,001st: the set starts afresh with it
    sealed.ignoreUnopenable('sess:0', 'x');
    sealed.ignoreUnopenable('sess:10000', 'x');
    expect(warn).toHaveBeenCalledTimes(10_002);
  });
});
