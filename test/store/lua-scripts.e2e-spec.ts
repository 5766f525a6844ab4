import { createHash } from 'node:crypto';
import { defineScriptsOn, runScript } from '@app/session/redis/lua-script';
import { DESTROY_SESSION, RENEW_CLAIM, RENEW_PLANT } from '@app/session/redis/renewal-scripts';
import { COMPARE_AND_SET, INDEX_ADD, SAVE_AND_INDEX, SAVE_SESSION, TOUCH_SESSION, type IndexJoin } from '@app/session/redis/scripts';
import { SCRIPTS } from '@app/session/redis/gateway-calls';
import { FIELD } from '@app/session/redis/session-fields';
import { redisPerSpec } from './fixtures';

/*
 * The Lua scripts' own contract, each script called directly on a real Redis with the times it is
 * given (no clock involved): the store above them often decides the same thing before it calls, so
 * these are the tests that notice when a script alone goes wrong (scripts/lua-mutations.js).
 */
const db = redisPerSpec('lua', ({ client }) => defineScriptsOn(client, SCRIPTS));

const MINUTE = 60_000;
/** A fixed "now" well in the future of the wall clock, so keys the tests write never expire during a test. */
const NOW = Date.now() + 24 * 60 * MINUTE;

async function storedSession(key: string, createdAt: number, expiresAt: number): Promise<void> {
  await db.admin.hset(key, FIELD.createdAt, String(createdAt), FIELD.expiresAt, String(expiresAt), 'n', '1');
  await db.admin.pexpireat(key, expiresAt);
}

describe('save-session', () => {
  it('deletes a session saved with an expiry at or before now, and answers expired', async () => {
    const key = `${db.prefix}s`;
    await storedSession(key, NOW - MINUTE, NOW + MINUTE);
    const save = { redisKey: key, mode: 'patch' as const, expiresAt: NOW, now: NOW, set: ['n', '2'], del: [] };
    await expect(runScript(db.client, SAVE_SESSION, save)).resolves.toBe('expired');
    await expect(db.admin.exists(key)).resolves.toBe(0);
    await expect(runScript(db.client, SAVE_SESSION, { ...save, mode: 'replace', expiresAt: NOW - 1 })).resolves.toBe('expired');
    await expect(db.admin.exists(key)).resolves.toBe(0);
  });

  it('a replace over a stored session or a tombstone keeps none of its fields', async () => {
    for (const [label, fields] of [
      ['session', [FIELD.createdAt, String(NOW - MINUTE), FIELD.expiresAt, String(NOW + MINUTE), 'old', '1']],
      ['tombstone', [FIELD.ended, '1', FIELD.expiresAt, String(NOW + MINUTE)]],
    ] as const) {
      const key = `${db.prefix}${label}`;
      await db.admin.hset(key, ...fields);
      await db.admin.pexpireat(key, NOW + MINUTE);
      const save = { redisKey: key, mode: 'replace' as const, expiresAt: NOW + 30 * MINUTE, now: NOW, set: [FIELD.createdAt, String(NOW), 'n', '1'], del: [] };
      await expect(runScript(db.client, SAVE_SESSION, save)).resolves.toBe('written');
      await expect(db.admin.hgetall(key)).resolves.toEqual({ [FIELD.createdAt]: String(NOW), n: '1', [FIELD.expiresAt]: String(NOW + 30 * MINUTE) });
    }
  });

  it('answers gone to a patch of a tombstone, leaving it as it was', async () => {
    const key = `${db.prefix}s`;
    await db.admin.hset(key, FIELD.ended, '1', FIELD.expiresAt, String(NOW + MINUTE));
    await db.admin.pexpireat(key, NOW + MINUTE);
    const save = { redisKey: key, mode: 'patch' as const, expiresAt: NOW + 30 * MINUTE, now: NOW, set: ['n', '2'], del: [] };
    await expect(runScript(db.client, SAVE_SESSION, save)).resolves.toBe('gone');
    await expect(db.admin.hgetall(key)).resolves.toEqual({ [FIELD.ended]: '1', [FIELD.expiresAt]: String(NOW + MINUTE) });
    await expect(db.admin.pexpiretime(key)).resolves.toBe(NOW + MINUTE);
  });
});

describe('the expiry a write moves (min gain)', () => {
  const HELD = NOW + 30 * MINUTE;
  const GAIN = 6 * MINUTE;

  it('a patch inside the min gain writes its fields and leaves the expiry as Redis holds it', async () => {
    const key = `${db.prefix}s`;
    await storedSession(key, NOW - MINUTE, HELD);
    const save = { redisKey: key, mode: 'patch' as const, expiresAt: HELD + GAIN - 1, now: NOW, minGain: GAIN, set: ['n', '2'], del: [] };
    await expect(runScript(db.client, SAVE_SESSION, save)).resolves.toBe('written');
    await expect(db.admin.hmget(key, 'n', FIELD.expiresAt)).resolves.toEqual(['2', String(HELD)]);
    await expect(db.admin.pexpiretime(key)).resolves.toBe(HELD);
  });

  it('a patch that gains the min gain moves the expiry and its field together', async () => {
    const key = `${db.prefix}s`;
    await storedSession(key, NOW - MINUTE, HELD);
    const save = { redisKey: key, mode: 'patch' as const, expiresAt: HELD + GAIN, now: NOW, minGain: GAIN, set: ['n', '2'], del: [] };
    await expect(runScript(db.client, SAVE_SESSION, save)).resolves.toBe('written');
    await expect(db.admin.hmget(key, 'n', FIELD.expiresAt)).resolves.toEqual(['2', String(HELD + GAIN)]);
    await expect(db.admin.pexpiretime(key)).resolves.toBe(HELD + GAIN);
  });

  it('a patch with min gain 0 sets the expiry exactly, earlier too (a cookie given a shorter maxAge)', async () => {
    const key = `${db.prefix}s`;
    await storedSession(key, NOW - MINUTE, HELD);
    const save = { redisKey: key, mode: 'patch' as const, expiresAt: NOW + MINUTE, now: NOW, minGain: 0, set: ['n', '2'], del: [] };
    await expect(runScript(db.client, SAVE_SESSION, save)).resolves.toBe('written');
    await expect(db.admin.hget(key, FIELD.expiresAt)).resolves.toBe(String(NOW + MINUTE));
    await expect(db.admin.pexpiretime(key)).resolves.toBe(NOW + MINUTE);
  });

  it('a patch with a min gain leaves alone an expiry another write moved since its writer read one (a shorter window set meanwhile)', async () => {
    const key = `${db.prefix}s`;
    const shorter = NOW + MINUTE; // app code lowered the cookie's maxAge after this writer read HELD
    await storedSession(key, NOW - MINUTE, shorter);
    const save = { redisKey: key, mode: 'patch' as const, expiresAt: HELD + GAIN, now: NOW, minGain: GAIN, expectedExpiry: HELD, set: ['n', '2'], del: [] };
    await expect(runScript(db.client, SAVE_SESSION, save)).resolves.toBe('written');
    await expect(db.admin.hmget(key, 'n', FIELD.expiresAt)).resolves.toEqual(['2', String(shorter)]);
    await expect(db.admin.pexpiretime(key)).resolves.toBe(shorter);
    // What it read is what Redis holds: it slides as before.
    await expect(runScript(db.client, SAVE_SESSION, { ...save, expectedExpiry: shorter })).resolves.toBe('written');
    await expect(db.admin.pexpiretime(key)).resolves.toBe(HELD + GAIN);
  });

  it('a compare-and-set with a min gain leaves alone an expiry another write moved since its writer read one', async () => {
    const key = `${db.prefix}s`;
    const shorter = NOW + MINUTE;
    await storedSession(key, NOW - MINUTE, shorter);
    const update = { redisKey: key, field: 'n', expected: '1', next: '2', expiresAt: HELD + GAIN, now: NOW, minGain: GAIN, expectedExpiry: HELD };
    await expect(runScript(db.client, COMPARE_AND_SET, update)).resolves.toEqual({ status: 'written' });
    await expect(db.admin.hmget(key, 'n', FIELD.expiresAt)).resolves.toEqual(['2', String(shorter)]);
    await expect(db.admin.pexpiretime(key)).resolves.toBe(shorter);
    await expect(runScript(db.client, COMPARE_AND_SET, { ...update, expected: '2', next: '3', expectedExpiry: shorter })).resolves.toEqual({
      status: 'written',
    });
    await expect(db.admin.pexpiretime(key)).resolves.toBe(HELD + GAIN);
  });

  it('a compare-and-set never moves back an expiry another request slid further, and moves it once that gains the min gain', async () => {
    const key = `${db.prefix}s`;
    await storedSession(key, NOW - MINUTE, HELD);
    const update = { redisKey: key, field: 'n', expected: '1', next: '2', expiresAt: HELD - MINUTE, now: NOW, minGain: GAIN, lastSeenAt: NOW };
    await expect(runScript(db.client, COMPARE_AND_SET, update)).resolves.toEqual({ status: 'written' });
    await expect(db.admin.hmget(key, 'n', FIELD.expiresAt, FIELD.lastSeenAt)).resolves.toEqual(['2', String(HELD), null]);
    await expect(db.admin.pexpiretime(key)).resolves.toBe(HELD);
    const sliding = { ...update, expected: '2', next: '3', expiresAt: HELD + GAIN };
    await expect(runScript(db.client, COMPARE_AND_SET, sliding)).resolves.toEqual({ status: 'written' });
    await expect(db.admin.hmget(key, 'n', FIELD.expiresAt, FIELD.lastSeenAt)).resolves.toEqual(['3', String(HELD + GAIN), String(NOW)]);
    await expect(db.admin.pexpiretime(key)).resolves.toBe(HELD + GAIN);
  });
});

describe('touch-session', () => {
  it('slides the expiry no further than the creation time plus the absolute timeout', async () => {
    const key = `${db.prefix}s`;
    const createdAt = NOW - 50 * MINUTE;
    await storedSession(key, createdAt, NOW + MINUTE);
    const touch = { redisKey: key, expiresAt: NOW + 30 * MINUTE, now: NOW, absoluteTimeout: 60 * MINUTE };
    await expect(runScript(db.client, TOUCH_SESSION, touch)).resolves.toBe('touched');
    await expect(db.admin.pexpiretime(key)).resolves.toBe(createdAt + 60 * MINUTE);
    await expect(db.admin.hget(key, FIELD.expiresAt)).resolves.toBe(String(createdAt + 60 * MINUTE));
  });

  it('deletes a session past its absolute deadline, and answers expired', async () => {
    const key = `${db.prefix}s`;
    await storedSession(key, NOW - 61 * MINUTE, NOW + MINUTE);
    const touch = { redisKey: key, expiresAt: NOW + 30 * MINUTE, now: NOW, absoluteTimeout: 60 * MINUTE };
    await expect(runScript(db.client, TOUCH_SESSION, touch)).resolves.toBe('expired');
    await expect(db.admin.exists(key)).resolves.toBe(0);
  });
});

describe("a user's index", () => {
  const join = (index: string, digest: string, indexExpiresAt: number): IndexJoin => ({
    redisKey: index,
    digest,
    createdAt: NOW,
    oldestLive: '-inf',
    limit: 0,
    onLimit: 'evict-oldest',
    indexExpiresAt,
  });

  it('takes the leaving digest out of its index in the save that joins the new one (an ID change)', async () => {
    const key = `${db.prefix}s`;
    const index = `${db.prefix}user:u`;
    await db.admin.zadd(index, NOW - MINUTE, 'old-digest', NOW - MINUTE, 'other-digest');
    const save = { redisKey: key, mode: 'replace' as const, expiresAt: NOW + MINUTE, now: NOW, set: ['n', '1'], del: [] };
    const reply = await runScript(db.client, SAVE_AND_INDEX, {
      save,
      join: join(index, 'new-digest', NOW + 2 * MINUTE),
      leave: { redisKey: index, digest: 'old-digest' },
    });
    expect(reply).toEqual({ status: 'written', evicted: [] });
    await expect(db.admin.zrange(index, 0, '-1')).resolves.toEqual(['other-digest', 'new-digest']);
  });

  it('never moves an index expiry earlier, on a join alone or with its save', async () => {
    const index = `${db.prefix}user:u`;
    await db.admin.zadd(index, NOW - MINUTE, 'first');
    await db.admin.pexpireat(index, NOW + 60 * MINUTE);
    await runScript(db.client, INDEX_ADD, join(index, 'second', NOW + 10 * MINUTE));
    await expect(db.admin.pexpiretime(index)).resolves.toBe(NOW + 60 * MINUTE);

    const save = { redisKey: `${db.prefix}s`, mode: 'replace' as const, expiresAt: NOW + MINUTE, now: NOW, set: ['n', '1'], del: [] };
    await runScript(db.client, SAVE_AND_INDEX, { save, join: join(index, 'third', NOW + 10 * MINUTE) });
    await expect(db.admin.pexpiretime(index)).resolves.toBe(NOW + 60 * MINUTE);

    await runScript(db.client, INDEX_ADD, join(index, 'fourth', NOW + 90 * MINUTE));
    await expect(db.admin.pexpiretime(index)).resolves.toBe(NOW + 90 * MINUTE);
  });
});

describe('logout and renewal', () => {
  it('leaves a tombstone that lives for the given time, and a renewal cannot plant the session under it', async () => {
    const key = `${db.prefix}s`;
    await storedSession(key, NOW - MINUTE, NOW + 30 * MINUTE);
    await expect(runScript(db.client, DESTROY_SESSION, { redisKey: key, tombstoneMs: MINUTE, now: NOW })).resolves.toEqual({
      deleted: 1,
      sealedSuccessor: undefined,
    });
    await expect(db.admin.hgetall(key)).resolves.toEqual({ [FIELD.ended]: '1', [FIELD.expiresAt]: String(NOW + MINUTE) });
    await expect(db.admin.pexpiretime(key)).resolves.toBe(NOW + MINUTE);
    const plant = { redisKey: key, expiresAt: NOW + 30 * MINUTE, now: NOW, fields: ['n', '1'] };
    await expect(runScript(db.client, RENEW_PLANT, plant)).resolves.toBe('ended');
    await expect(db.admin.hget(key, 'n')).resolves.toBeNull();
  });

  it('records the first claim of a renewal, so a second one learns its successor', async () => {
    const key = `${db.prefix}s`;
    await storedSession(key, NOW - MINUTE, NOW + 30 * MINUTE);
    const first = await runScript(db.client, RENEW_CLAIM, { redisKey: key, sealedSuccessor: 'sealed-a' });
    expect(first).toMatchObject({ status: 'claimed' });
    await expect(db.admin.hget(key, FIELD.successor)).resolves.toBe('sealed-a');
    const second = await runScript(db.client, RENEW_CLAIM, { redisKey: key, sealedSuccessor: 'sealed-b' });
    expect(second).toMatchObject({ status: 'taken', sealedSuccessor: 'sealed-a' });
  });
});

describe('how a script is sent', () => {
  /** Calls of EVAL and EVALSHA Redis has counted so far (`INFO commandstats`): those it ran, and those it refused (NOSCRIPT). */
  async function scriptCalls(): Promise<{ eval: number; evalsha: number }> {
    const stats = String(await db.admin.call('INFO', 'commandstats'));
    const calls = (name: string) => {
      const line = new RegExp(`^cmdstat_${name}:calls=(\\d+),.*?rejected_calls=(\\d+)`, 'm').exec(stats);
      return line ? Number(line[1]) + Number(line[2]) : 0;
    };
    return { eval: calls('eval'), evalsha: calls('evalsha') };
  }

  it('runs by EVALSHA, and by EVAL once when Redis has not cached the script (after a restart or SCRIPT FLUSH)', async () => {
    const key = `${db.prefix}s`;
    await storedSession(key, NOW - MINUTE, NOW + 30 * MINUTE);
    const touch = { redisKey: key, expiresAt: NOW + 40 * MINUTE, now: NOW, absoluteTimeout: 0 };
    await db.admin.script('FLUSH');
    const before = await scriptCalls();
    await expect(runScript(db.client, TOUCH_SESSION, touch)).resolves.toBe('touched');
    const afterFirst = await scriptCalls();
    expect(afterFirst).toEqual({ eval: before.eval + 1, evalsha: before.evalsha + 1 }); // NOSCRIPT, then EVAL
    await expect(db.admin.script('EXISTS', createHash('sha1').update(TOUCH_SESSION.lua).digest('hex'))).resolves.toEqual([1]);
    await expect(runScript(db.client, TOUCH_SESSION, { ...touch, expiresAt: NOW + 50 * MINUTE })).resolves.toBe('touched');
    await expect(scriptCalls()).resolves.toEqual({ eval: afterFirst.eval, evalsha: afterFirst.evalsha + 1 });
    await expect(db.admin.pexpiretime(key)).resolves.toBe(NOW + 50 * MINUTE);
  });

  it('passes any other error on as it is, without sending the script again', async () => {
    const key = `${db.prefix}not-a-hash`;
    await db.admin.set(key, 'x', 'PX', MINUTE);
    await runScript(db.client, TOUCH_SESSION, { redisKey: `${db.prefix}absent`, expiresAt: NOW + MINUTE, now: NOW, absoluteTimeout: 0 }); // cached now
    const before = await scriptCalls();
    await expect(runScript(db.client, TOUCH_SESSION, { redisKey: key, expiresAt: NOW + MINUTE, now: NOW, absoluteTimeout: 0 })).rejects.toThrow(/WRONGTYPE/);
    await expect(scriptCalls()).resolves.toEqual({ eval: before.eval, evalsha: before.evalsha + 1 });
  });
});
