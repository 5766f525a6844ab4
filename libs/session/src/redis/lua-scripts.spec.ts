import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SessionStoreError } from '../errors/session-store.error';
import { ACTIVITY_ADD } from './activity-script';
import { SCRIPTS } from './gateway-calls';
import { luaSource } from './lua-source';
import { DESTROY_SESSION, RENEW_CLAIM, RENEW_PLANT, RENEW_RETIRE } from './renewal-scripts';
import { COMPARE_AND_SET, EXTEND_INDEX, INDEX_ADD, SAVE_AND_INDEX, SAVE_SESSION, TOUCH_SESSION, indexArgv } from './scripts';
import { FIELD } from './session-fields';

const ALL = SCRIPTS;

const save = { redisKey: 'sess:a', mode: 'patch' as const, expiresAt: 2_000, now: 1_000, set: ['views', '2'], del: ['old'] };

describe('the Lua scripts', () => {
  it('are read with every include resolved, each once, and the field names from session-fields.ts', () => {
    for (const script of ALL) {
      expect(script.lua).not.toMatch(/@include/);
      for (const declaration of [
        'local FIELD =',
        'local function checked_expiry',
        'local function call_in_chunks',
        'local function save_session',
        'local function piece_count',
      ]) {
        expect(script.lua.split(declaration).length).toBeLessThanOrEqual(2);
      }
    }
    expect(SAVE_AND_INDEX.lua).toContain('local function save_session');
    expect(SAVE_AND_INDEX.lua).toContain('local function index_join');
    expect(SAVE_SESSION.lua).toContain(`successor = '${FIELD.successor}'`);
    expect(new Set(ALL.map((script) => script.name)).size).toBe(ALL.length);
  });

  it('resolve includes in place, nested ones first, each once per script', () => {
    const files: Record<string, string> = {
      main: '--- @include "a"\n--- @include "b"\nreturn a() + b()',
      a: '--- @include "shared"\nlocal function a() return shared end',
      b: '--- @include "shared"\n--- @include "a"\nlocal function b() return 1 end',
      shared: 'local shared = 1',
    };
    expect(luaSource('main', (name) => files[name])).toBe(
      'local shared = 1\nlocal function a() return shared end\n\n\nlocal function b() return 1 end\nreturn a() + b()',
    );
  });

  it('refuse a script naming a field session-fields.ts does not define', () => {
    const files: Record<string, string> = { main: '--- @include "fields"\nreturn FIELD.successor .. FIELD.sucessor' };
    expect(() => luaSource('main', (name) => files[name])).toThrow('Lua script "main" uses FIELD.sucessor, which session-fields.ts does not define');
  });

  it('name a missing file and say what a bundle must carry', () => {
    expect(() => luaSource('no-such-script')).toThrow(/cannot read its Lua script .*no-such-script\.lua.*redis\/lua folder/);
  });

  it("pass SAVE_AND_INDEX's own arguments in the number its Lua counts before the save's", () => {
    const lua = readFileSync(join(__dirname, 'lua', 'save-and-index.lua'), 'utf8');
    const names = /local INDEX_ARGS = \{([^}]*)\}/.exec(lua)![1].split(',');
    expect(indexArgv(undefined, undefined)).toHaveLength(names.length);
    const join_ = { redisKey: 'sess:user:u', digest: 'd', createdAt: 1, oldestLive: '-inf' as const, limit: 2, onLimit: 'reject' as const, indexExpiresAt: 3 };
    expect(indexArgv(join_, { redisKey: 'sess:user:v', digest: 'e' })).toHaveLength(names.length);
    const args = SAVE_AND_INDEX.args({ save, join: join_ });
    expect(args.slice(0, SAVE_AND_INDEX.keys)).toEqual(['sess:a', 'sess:user:u', 'sess:a']);
    expect(args.slice(SAVE_AND_INDEX.keys + names.length)).toEqual(SAVE_SESSION.args(save).slice(SAVE_SESSION.keys));
  });

  it('build the arguments the Lua reads', () => {
    expect(SAVE_SESSION.args(save)).toEqual(['sess:a', 'patch', 2_000, 1_000, 0, '', 1, 'views', '2', 'old']);
    expect(SAVE_SESSION.args({ ...save, minGain: 600, expectedExpiry: 1_500 })).toEqual(['sess:a', 'patch', 2_000, 1_000, 600, 1_500, 1, 'views', '2', 'old']);
    expect(TOUCH_SESSION.args({ redisKey: 'k', expiresAt: 5, now: 1, absoluteTimeout: 0, expectedExpiry: null })).toEqual(['k', 5, 1, 0, '', '']);
    expect(TOUCH_SESSION.args({ redisKey: 'k', expiresAt: 5, now: 1, absoluteTimeout: 9, lastSeenAt: 4 })).toEqual(['k', 5, 1, 9, '*', 4]);
    const update = { redisKey: 'k', field: 'f', expected: undefined, next: 'v', expiresAt: 5, now: 1 };
    expect(COMPARE_AND_SET.args(update)).toEqual(['k', 'f', '0', '1', 5, 1, '', 0, '', 0, 1, 'f', 'v']);
    expect(COMPARE_AND_SET.args({ ...update, lastSeenAt: 3, minGain: 7, expectedExpiry: 4 })).toEqual(['k', 'f', '0', '1', 5, 1, 3, 7, 4, 0, 1, 'f', 'v']);
    expect(COMPARE_AND_SET.args({ ...update, expected: 'u', next: undefined })).toEqual(['k', 'f', '1', '0', 5, 1, '', 0, '', 1, 'f', 'u', 0]);
    expect(ACTIVITY_ADD.args({ sessionsKey: 's', usersKey: 'u', ttl: 9, digests: ['a', 'b'], userIds: ['x'] })).toEqual(['s', 'u', 9, 2, 'a', 'b', 'x']);
  });

  it('send a long value as Redis stores it, its head and pieces, in the save, the compare-and-set and the plant', () => {
    const long = 'a'.repeat(61) + 'b'.repeat(64) + 'c';
    const stored = ['cart', `\x1f3:${'a'.repeat(61)}`, ':1:cart', 'b'.repeat(64), ':2:cart', 'c'];
    expect(SAVE_SESSION.args({ ...save, set: ['views', '2', 'cart', long] })).toEqual([
      'sess:a',
      'patch',
      2_000,
      1_000,
      0,
      '',
      4,
      'views',
      '2',
      ...stored,
      'old',
    ]);
    const update = { redisKey: 'k', field: 'cart', expected: long, next: 'short', expiresAt: 5, now: 1 };
    expect(COMPARE_AND_SET.args(update)).toEqual(['k', 'cart', '1', '1', 5, 1, '', 0, '', 3, ...stored, 1, 'cart', 'short']);
    expect(COMPARE_AND_SET.args({ ...update, expected: 'short', next: long })).toEqual([
      'k',
      'cart',
      '1',
      '1',
      5,
      1,
      '',
      0,
      '',
      1,
      'cart',
      'short',
      3,
      ...stored,
    ]);
    // Of the new value's pieces, only those that differ from the expected value's are sent.
    const grown = long.slice(0, -1) + 'd';
    expect(COMPARE_AND_SET.args({ ...update, next: grown })).toEqual(['k', 'cart', '1', '1', 5, 1, '', 0, '', 3, ...stored, 3, ':2:cart', 'd']);
    expect(RENEW_PLANT.args({ redisKey: 'k', expiresAt: 5, now: 1, fields: ['cart', long, 'n', '1'] })).toEqual(['k', 5, 1, ...stored, 'n', '1']);
  });

  it('read the replies each script sends', () => {
    expect(COMPARE_AND_SET.parse(['changed', '\x1f3:ab', 'cd', 'e'], 'x')).toEqual({ status: 'changed', current: 'abcde' });
    expect(COMPARE_AND_SET.parse(['changed', '\x1f3:ab', null, 'e'], 'x')).toEqual({ status: 'changed', current: '\x1f3:ab' });
    expect(SAVE_SESSION.parse('moved', SAVE_SESSION.name)).toBe('moved');
    expect(COMPARE_AND_SET.parse(['changed'], 'x')).toEqual({ status: 'changed', current: undefined });
    expect(COMPARE_AND_SET.parse(['changed', 'now'], 'x')).toEqual({ status: 'changed', current: 'now' });
    expect(COMPARE_AND_SET.parse(['written'], 'x')).toEqual({ status: 'written' });
    expect(INDEX_ADD.parse(['added', 'd1', 'd2'], 'x')).toEqual({ status: 'added', evicted: ['d1', 'd2'] });
    expect(SAVE_AND_INDEX.parse(['gone'], 'x')).toEqual({ status: 'gone', evicted: [] });
    expect(SAVE_AND_INDEX.parse(['rejected'], 'x')).toEqual({ status: 'rejected' });
    expect(RENEW_CLAIM.parse(['taken', 'sealed', '__proto__', 'v'], 'x')).toEqual({
      status: 'taken',
      sealedSuccessor: 'sealed',
      fields: { ['__proto__']: 'v' },
    });
    expect(RENEW_CLAIM.parse(['gone'], 'x')).toEqual({ status: 'gone' });
    expect(DESTROY_SESSION.parse([1, ''], 'x')).toEqual({ deleted: 1, sealedSuccessor: undefined });
    expect(DESTROY_SESSION.parse([0, 'sealed'], 'x')).toEqual({ deleted: 0, sealedSuccessor: 'sealed' });
    expect(EXTEND_INDEX.parse(0, 'x')).toBe(0);
  });

  it.each(
    (
      [
        [SAVE_SESSION, 'saved'],
        [SAVE_SESSION, 1],
        [TOUCH_SESSION, null],
        [COMPARE_AND_SET, 'written'],
        [INDEX_ADD, ['added', 1]],
        [SAVE_AND_INDEX, []],
        [EXTEND_INDEX, 2],
        [RENEW_CLAIM, ['claimed', 'sealed', 'field-without-value']],
        [RENEW_PLANT, ['planted']],
        [RENEW_RETIRE, 'OK'],
        [DESTROY_SESSION, ['1', '']],
        [ACTIVITY_ADD, 0],
      ] as const
    ).map(([script, reply]) => [script.name, reply, script] as const),
  )('%s: refuses the reply %p, naming the script', (_name, reply, script) => {
    let thrown: unknown;
    try {
      script.parse(reply, script.name);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(SessionStoreError);
    expect((thrown as Error).message).toContain(`Session script "${script.name}" got an unexpected reply from Redis`);
  });

  it('describe an unexpected reply by its shape, without a value that could be session data', () => {
    expect(() => SAVE_SESSION.parse('secret value from a session', 'sessionSave')).toThrow(/a string of 27 characters, where it answers one of 'written'/);
    expect(() => TOUCH_SESSION.parse(['moved'], 'sessionTouch')).toThrow(/a list of 1 starting with 'moved'/);
  });
});
