#!/usr/bin/env node
/*
 * Reads Stryker's JSON report (reports/mutation/mutation.json, written by npm run test:mutation) and
 * prints the score per library folder and every mutant the tests let live (file:line, mutator,
 * replacement). The score counts a mutant as detected when a test failed (Killed) or the run timed
 * out (Timeout); mutants that do not compile (the TypeScript checker) are left out, as Stryker does.
 *
 * With no report named, it reads every report in reports/mutation/ (mutation.json of a whole run,
 * mutation-<folders>.json of a part, see stryker.config.mjs); a file in several takes the newest.
 * Reports of runs on the unit specs alone (MUTATION_TESTS=unit, named …-unit.json) are read only
 * when named: their survivors are a lower bound, not the suite's result.
 *
 *   node scripts/mutation-summary.js [report.json...] [--markdown]
 */
const { readdirSync, readFileSync, statSync } = require('node:fs');
const { join, relative } = require('node:path');

const ROOT = join(__dirname, '..');
const args = process.argv.slice(2);
const markdown = args.includes('--markdown');
const REPORTS = join(ROOT, 'reports/mutation');
const named = args.filter((arg) => !arg.startsWith('--'));

const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);

function reportPaths() {
  if (named.length > 0) return named;
  let names = [];
  try {
    names = readdirSync(REPORTS).filter((name) => /^mutation.*\.json$/.test(name) && !name.endsWith('-unit.json'));
  } catch {
    // no folder: no report yet
  }
  return names.map((name) => join(REPORTS, name)).sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs);
}

/** Every mutated file with its source and mutants, from the newest report that holds it. */
const files = {};
for (const path of reportPaths()) {
  try {
    Object.assign(files, JSON.parse(readFileSync(path, 'utf8')).files);
  } catch (error) {
    console.error(`Cannot read the mutation report ${path} (${error.message}).`);
    process.exit(2);
  }
}
if (Object.keys(files).length === 0) {
  console.error(`No mutation report in ${relative(ROOT, REPORTS)}: run npm run test:mutation first.`);
  process.exit(2);
}

/** The library folder of a file (libs/session/src/<folder>/...), else the file's own folder. */
function folderOf(file) {
  const match = /libs\/session\/src\/([^/]+)\//.exec(file);
  return match ? match[1] : file.split('/').slice(0, -1).join('/');
}

const folders = new Map();
const living = [];
for (const [file, { mutants, source }] of Object.entries(files)) {
  const path = relative(ROOT, join(ROOT, file));
  const tally = folders.get(folderOf(path)) ?? { detected: 0, undetected: 0, invalid: 0 };
  folders.set(folderOf(path), tally);
  const lines = source.split('\n');
  for (const mutant of mutants) {
    if (DETECTED.has(mutant.status)) tally.detected += 1;
    else if (UNDETECTED.has(mutant.status)) {
      tally.undetected += 1;
      const { line, column } = mutant.location.start;
      const original = lines[line - 1].trim();
      living.push({ where: `${path}:${line}:${column}`, status: mutant.status, mutator: mutant.mutatorName, replacement: mutant.replacement, original });
    } else tally.invalid += 1;
  }
}

const percent = (detected, total) => (total === 0 ? 'n/a' : `${((100 * detected) / total).toFixed(1)}%`);
const rows = [...folders].sort(([a], [b]) => a.localeCompare(b));
const total = rows.reduce(
  (sum, [, t]) => ({ detected: sum.detected + t.detected, undetected: sum.undetected + t.undetected, invalid: sum.invalid + t.invalid }),
  {
    detected: 0,
    undetected: 0,
    invalid: 0,
  },
);
const oneLine = (text) => String(text).replace(/\s+/g, ' ').slice(0, 100);

if (markdown) {
  console.log('| Folder | Killed or timed out | Survived or not covered | Did not compile | Score |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const [folder, t] of [...rows, ['**all**', total]]) {
    console.log(`| ${folder} | ${t.detected} | ${t.undetected} | ${t.invalid} | ${percent(t.detected, t.detected + t.undetected)} |`);
  }
  console.log('');
  for (const mutant of living) {
    console.log(`- \`${mutant.where}\` ${mutant.mutator} (${mutant.status}): \`${oneLine(mutant.replacement)}\``);
  }
} else {
  console.log('folder      detected  undetected  no-compile  score');
  for (const [folder, t] of [...rows, ['all', total]]) {
    console.log(
      `${folder.padEnd(10)} ${String(t.detected).padStart(9)} ${String(t.undetected).padStart(11)} ${String(t.invalid).padStart(11)}  ${percent(t.detected, t.detected + t.undetected)}`,
    );
  }
  console.log(`\n${living.length} mutant(s) the tests let live:`);
  for (const mutant of living) {
    console.log(`${mutant.where}  ${mutant.mutator} (${mutant.status})\n    was: ${oneLine(mutant.original)}\n    now: ${oneLine(mutant.replacement)}`);
  }
}
