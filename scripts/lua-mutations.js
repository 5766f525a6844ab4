#!/usr/bin/env node
/*
 * Deliberate mutations of the library's Lua scripts (libs/session/src/redis/lua), which Stryker
 * cannot mutate: each one breaks a guarantee the scripts hold, and names the jest test expected to
 * fail with it. The script checks first that those tests pass on the real scripts, then applies one
 * mutation at a time to the source, runs its test, and puts the file back (on failure and on
 * Ctrl-C too). It prints each mutation as caught or missed and exits non-zero when one is missed.
 *
 *   npm run test:lua-mutations               every mutation
 *   npm run test:lua-mutations -- cas-always   the mutations whose names are given
 */
const { spawnSync } = require('node:child_process');
const { readFileSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join, relative } = require('node:path');

const ROOT = join(__dirname, '..');
const LUA = join(ROOT, 'libs/session/src/redis/lua');

/**
 * name: what the mutation breaks; file: under redis/lua; from: the exact text replaced (found once);
 * to: its replacement; test: the jest file expected to fail; only: a -t pattern within it.
 */
const MUTATIONS = [
  {
    name: 'cas-ignores-change',
    why: 'compare-and-set writes over a value changed since the read (a lost update)',
    file: 'compare-and-set.lua',
    from: "if not same then\n  if not head then return {'changed'} end",
    to: "if false then\n  if not head then return {'changed'} end",
    test: 'test/store/atomic-update.e2e-spec.ts',
    only: 'does not overwrite a change made meanwhile',
  },
  {
    name: 'cas-writes-to-destroyed',
    why: 'compare-and-set recreates a session destroyed since the read',
    file: 'compare-and-set.lua',
    from: "if not found[1] then return {'gone'} end",
    to: '',
    test: 'test/store/atomic-update.e2e-spec.ts',
    only: "throws SessionConflictError 'gone'",
  },
  {
    name: 'save-patch-revives',
    why: 'a patch save brings back a session logged out while its request ran',
    file: 'includes/save-session.lua',
    from: "if not found[1] then return 'gone' end",
    to: '',
    test: 'test/store/redis-session-store.e2e-spec.ts',
    only: 'a save never brings back a session destroyed meanwhile',
  },
  {
    name: 'save-patch-over-tombstone',
    why: "a patch save writes into a logged-out session's tombstone (renewal on), undoing the logout",
    file: 'includes/save-session.lua',
    from: "if not found[1] then return 'gone' end",
    to: "if redis.call('EXISTS', key) == 0 then return 'gone' end",
    test: 'test/store/lua-scripts.e2e-spec.ts',
    only: 'answers gone to a patch of a tombstone',
  },
  {
    name: 'replace-merges',
    why: 'a replace (a new ID, a login) keeps the fields a session or tombstone already held under that key',
    file: 'includes/save-session.lua',
    from: 'elseif found[1] or found[3] then',
    to: 'elseif false then',
    test: 'test/store/lua-scripts.e2e-spec.ts',
    only: 'a replace over a stored session or a tombstone',
  },
  {
    name: 'save-slides-inside-touch-after',
    why: 'a change moves the expiry on every save, one more command each, though no slide is due',
    file: 'includes/save-session.lua',
    from: 'stamp = at - held >= min_gain',
    to: 'stamp = true',
    test: 'test/session/request-cost.e2e-spec.ts',
    only: 'a change of one key',
  },
  {
    name: 'cas-slides-back',
    why: 'a compare-and-set moves back an expiry that another request slid further',
    file: 'compare-and-set.lua',
    from: '(min_gain > 0 and at - held >= min_gain)',
    to: '(min_gain > 0)',
    test: 'test/store/lua-scripts.e2e-spec.ts',
    only: 'never moves back an expiry',
  },
  {
    name: 'save-keeps-expired',
    why: 'a save whose expiry is already past writes the session instead of deleting it',
    file: 'includes/save-session.lua',
    from: 'if at <= tonumber(ARGV[base + 3]) then',
    to: 'if at < 0 then',
    test: 'test/store/lua-scripts.e2e-spec.ts',
    only: 'deletes a session saved with an expiry at or before now',
  },
  {
    name: 'touch-past-absolute',
    why: 'sliding the idle timeout ignores the absolute deadline',
    file: 'touch-session.lua',
    from: 'if absolute > 0 and created + absolute < at then at = created + absolute end',
    to: '',
    test: 'test/store/lua-scripts.e2e-spec.ts',
    only: 'no further than the creation time plus the absolute timeout',
  },
  {
    name: 'touch-keeps-expired',
    why: 'a touch after the deadline keeps the session alive instead of deleting it',
    file: 'touch-session.lua',
    from: 'if at <= tonumber(ARGV[2]) then',
    to: 'if at < 0 then',
    test: 'test/store/lua-scripts.e2e-spec.ts',
    only: 'deletes a session past its absolute deadline',
  },
  {
    name: 'index-leave-kept',
    why: "a session leaving its user's index (a new ID, a logout) leaves its old entry behind",
    file: 'save-and-index.lua',
    from: "if index.leaving ~= '' then redis.call('ZREM', leave_key, index.leaving) end",
    to: '',
    test: 'test/store/lua-scripts.e2e-spec.ts',
    only: 'takes the leaving digest out of its index',
  },
  {
    name: 'index-limit-off-by-one',
    why: 'the reject policy lets one session more than users.maxSessions in',
    file: 'includes/index-functions.lua',
    from: 'return count >= limit',
    to: 'return count > limit',
    test: 'test/store/user-session-index.e2e-spec.ts',
    only: 'per-user limit',
  },
  {
    name: 'index-expiry-moved-earlier',
    why: "a user's index gets the expiry of its latest member even when an older member outlives it",
    file: 'includes/index-functions.lua',
    from: "if redis.call('PEXPIRETIME', key) < tonumber(expire_at) then",
    to: 'if true then',
    test: 'test/store/lua-scripts.e2e-spec.ts',
    only: 'never moves an index expiry earlier',
  },
  {
    name: 'destroy-without-tombstone',
    why: 'a logout with renewal on leaves no tombstone, so a renewal half-way plants the session again',
    file: 'destroy-session.lua',
    from: 'if keep > 0 then',
    to: 'if false then',
    test: 'test/session/renewal.e2e-spec.ts',
  },
  {
    name: 'renew-claim-not-recorded',
    why: 'a renewal claim does not record its successor, so replicas renewing at once disagree',
    file: 'renew-claim.lua',
    from: "if reply[1] == 'claimed' then redis.call('HSET', key, FIELD.successor, ARGV[1]) end",
    to: '',
    test: 'test/session/renewal.e2e-spec.ts',
    only: 'agree on one successor',
  },
  {
    name: 'pieces-stale-kept',
    why: 'a save of a value in fewer pieces than before leaves the old pieces in the hash (memory never given back)',
    file: 'includes/save-session.lua',
    from: 'for h, i in ipairs(heads) do piece_fields(drops, ARGV[i], piece_count(ARGV[i + 1]), piece_count(found[3 + h])) end',
    to: '',
    test: 'test/store/field-pieces.e2e-spec.ts',
    only: 'drops the pieces a shorter value',
  },
  {
    name: 'pieces-deleted-kept',
    why: 'a save that deletes a long value deletes its head and leaves its pieces in the hash',
    file: 'includes/save-session.lua',
    from: 'for i = pairs_to + 1, #ARGV do piece_fields(drops, ARGV[i], 1, piece_count(found[3 + #heads + i - pairs_to])) end',
    to: '',
    test: 'test/store/field-pieces.e2e-spec.ts',
    only: 'drops the pieces a shorter value',
  },
  {
    name: 'pieces-cas-head-only',
    why: 'a compare-and-set of a long value compares only its head, so a change in a later piece is overwritten',
    file: 'compare-and-set.lua',
    from: 'if found[4 + i] ~= ARGV[expected_at + 2 * i + 1] then',
    to: 'if i == 0 and found[4 + i] ~= ARGV[expected_at + 2 * i + 1] then',
    test: 'test/store/field-pieces.e2e-spec.ts',
    only: 'answers changed with the whole value',
  },
  {
    name: 'pieces-cas-stale-kept',
    why: 'a compare-and-set that writes a value in fewer pieces leaves the old ones in the hash',
    file: 'compare-and-set.lua',
    from: "call_list_in_chunks('HDEL', key, held_fields(next_count))",
    to: '',
    test: 'test/store/field-pieces.e2e-spec.ts',
    only: 'compares a long value piece by piece',
  },
  {
    name: 'pieces-reformed-left-out',
    why: 'a compare-and-set over a value held in another form writes only the pieces it sent, leaving the value corrupt',
    file: 'compare-and-set.lua',
    from: '  if reformed then',
    to: '  if false then',
    test: 'test/store/field-pieces.e2e-spec.ts',
    only: 'another setting',
  },
  {
    name: 'pieces-whole-value-refused',
    why: 'a compare-and-set never matches a long value an older version wrote whole, so every update of it conflicts',
    file: 'compare-and-set.lua',
    from: 'same = whole_value(head, held_pieces) == whole_value(ARGV[expected_at + 1], expected_pieces)',
    to: 'same = false',
    test: 'test/store/field-pieces.e2e-spec.ts',
    only: 'an older version wrote whole',
  },
];

function parseArgs(argv) {
  const names = argv.filter((arg) => !arg.startsWith('-'));
  const unknown = names.filter((name) => !MUTATIONS.some((mutation) => mutation.name === name));
  if (unknown.length > 0) {
    console.error(`Unknown mutation ${unknown.join(', ')}; known: ${MUTATIONS.map((mutation) => mutation.name).join(', ')}`);
    process.exit(2);
  }
  return names.length === 0 ? MUTATIONS : MUTATIONS.filter((mutation) => names.includes(mutation.name));
}

/**
 * Runs jest on the files (and pattern): passed when every selected test passed, ran the number of
 * tests that ran (a pattern that selects none would pass without testing anything).
 */
function jestPasses(files, only) {
  const report = join(tmpdir(), `lua-mutations-${process.pid}.json`);
  const args = ['jest', ...files, '--maxWorkers=1', '--silent', '--json', `--outputFile=${report}`];
  if (only) args.push('-t', only);
  const result = spawnSync('npx', args, { cwd: ROOT, encoding: 'utf8' });
  let ran = 0;
  try {
    const summary = JSON.parse(readFileSync(report, 'utf8'));
    ran = summary.numTotalTests - summary.numPendingTests - summary.numTodoTests;
  } catch {
    // no report: jest could not start, and the output says why
  } finally {
    rmSync(report, { force: true });
  }
  return { passed: result.status === 0, ran, output: `${result.stdout}${result.stderr}` };
}

/** The original text of every file a mutation changed and has not put back yet. */
const pending = new Map();

function restoreAll() {
  for (const [path, text] of pending) writeFileSync(path, text);
  pending.clear();
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    restoreAll();
    process.exit(130);
  });
}
process.on('exit', restoreAll);

function applied(mutation) {
  const path = join(LUA, mutation.file);
  const text = readFileSync(path, 'utf8');
  const count = text.split(mutation.from).length - 1;
  if (count !== 1) throw new Error(`${mutation.name}: "${mutation.from}" occurs ${count} times in ${mutation.file}, not once`);
  pending.set(path, text);
  writeFileSync(
    path,
    text.replace(mutation.from, () => mutation.to),
  );
  return path;
}

function seconds(since) {
  return `${((Date.now() - since) / 1000).toFixed(0)} s`;
}

function main() {
  const chosen = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const files = [...new Set(chosen.map((mutation) => mutation.test))];
  console.log(`Baseline: ${files.join(', ')} on the real scripts`);
  const baseline = jestPasses(files);
  if (!baseline.passed) {
    console.error(baseline.output);
    console.error('The named tests fail without any mutation: fix them first; no mutation was tried.');
    process.exit(2);
  }
  console.log(`  passed (${seconds(started)})`);

  const missed = [];
  for (const mutation of chosen) {
    const at = Date.now();
    const path = applied(mutation);
    let outcome;
    try {
      outcome = jestPasses([mutation.test], mutation.only);
    } finally {
      writeFileSync(path, pending.get(path));
      pending.delete(path);
    }
    if (outcome.ran === 0 && outcome.passed) {
      throw new Error(`${mutation.name}: no test of ${mutation.test} matches -t "${mutation.only}"`);
    }
    const caught = !outcome.passed;
    if (!caught) missed.push(mutation);
    const where = `${relative(ROOT, mutation.test)}${mutation.only ? ` -t "${mutation.only}"` : ''}`;
    console.log(`${caught ? 'caught' : 'MISSED'}  ${mutation.name} (${mutation.file}; ${seconds(at)}): ${mutation.why}\n        by ${where}`);
  }
  console.log(`\n${chosen.length - missed.length} of ${chosen.length} mutations caught in ${seconds(started)}.`);
  if (missed.length > 0) {
    console.error(`Missed: ${missed.map((mutation) => mutation.name).join(', ')}`);
    process.exit(1);
  }
}

main();
