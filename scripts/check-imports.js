// npm run lint (after ESLint): fails on any import cycle between the TypeScript files of libs/ and
// apps/, type-only imports included, and on an import that breaks the library's layering. ESLint's
// import-x/no-cycle skips `import type`, but a type-only cycle still ties two files into one unit:
// neither can move or split without the other.
const { readdirSync, readFileSync, existsSync, statSync } = require('node:fs');
const { join, dirname, resolve, relative } = require('node:path');
const ts = require('typescript');

const root = join(__dirname, '..');
const roots = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['libs', 'apps'];

function sourceFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sourceFiles(path);
    return /\.ts$/.test(entry.name) && !/\.d\.ts$/.test(entry.name) ? [path] : [];
  });
}

/** The file a relative import names, as TypeScript resolves it; undefined for a package. */
function resolveImport(from, specifier) {
  // The library's aliases in the monorepo (tsconfig.json "paths"): its package name, as the shop uses it, and `@app/session`.
  const alias = /^(?:@app\/session|nest-redis-session)(\/.*)?$/.exec(specifier);
  if (!alias && !specifier.startsWith('.')) return undefined;
  const base = alias ? join(root, 'libs/session/src', alias[1] ?? 'index') : resolve(dirname(from), specifier);
  for (const candidate of [`${base}.ts`, join(base, 'index.ts')]) if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  return undefined;
}

const files = roots.flatMap((dir) => sourceFiles(join(root, dir)));
const edges = new Map(
  files.map((file) => {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    return [file, [...new Set(importedFiles.map(({ fileName }) => resolveImport(file, fileName)).filter(Boolean))]];
  }),
);

// Tarjan's strongly connected components: every component of more than one file is a cycle.
let counter = 0;
const index = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const cycles = [];
function visit(file) {
  index.set(file, counter);
  low.set(file, counter++);
  stack.push(file);
  onStack.add(file);
  for (const next of edges.get(file) ?? []) {
    if (!index.has(next)) {
      visit(next);
      low.set(file, Math.min(low.get(file), low.get(next)));
    } else if (onStack.has(next)) {
      low.set(file, Math.min(low.get(file), index.get(next)));
    }
  }
  if (low.get(file) !== index.get(file)) return;
  const component = [];
  let member;
  do {
    member = stack.pop();
    onStack.delete(member);
    component.push(member);
  } while (member !== file);
  if (component.length > 1 || (edges.get(file) ?? []).includes(file)) cycles.push(component);
}
for (const file of files) if (!index.has(file)) visit(file);

/*
 * The library's layers only look down. The core (store/, redis/) owns the interfaces the features
 * implement and imports none of them; options/ is a leaf (errors/ and the constants only); the shop
 * uses the library's public entry alone.
 */
const LIB = 'libs/session/src/';
/** The package's entry points (its `exports`), as source files: all an app may import. */
const ENTRIES = Object.values(require('../libs/session/package.json').exports)
  .map((target) => (typeof target === 'object' ? target.default : target))
  .filter((target) => target.endsWith('.js'))
  .map((target) => `${LIB}${target.replace(/^\.\//, '').replace(/\.js$/, '.ts')}`);
const FEATURES = ['cache', 'renewal', 'users', 'events', 'metrics', 'tracing', 'observe', 'health'];
const ABOVE_CORE = [...FEATURES, 'module', 'service', 'request', 'guards', 'csrf', 'decorators'];
const rules = [
  { from: `${LIB}store/`, forbidden: ABOVE_CORE.map((dir) => `${LIB}${dir}/`), why: 'the core imports no feature' },
  { from: `${LIB}redis/`, forbidden: [...ABOVE_CORE, 'store'].map((dir) => `${LIB}${dir}/`), why: 'redis/ sits under the store' },
  { from: `${LIB}options/`, allowedOnly: [`${LIB}options/`, `${LIB}errors/`, `${LIB}session.constants.ts`], why: 'options/ is a leaf' },
  { from: 'apps/', allowedOnly: ['apps/', ...ENTRIES], why: "the shop uses the package's public entry points only" },
];
const broken = [];
for (const [file, targets] of edges) {
  const from = relative(root, file);
  if (from.endsWith('.spec.ts')) continue; // a spec tests its layer from outside: it may reach shared test helpers
  for (const target of targets.map((t) => relative(root, t))) {
    for (const rule of rules) {
      if (!from.startsWith(rule.from)) continue;
      const refused = rule.allowedOnly ? !rule.allowedOnly.some((ok) => target.startsWith(ok)) : rule.forbidden.some((no) => target.startsWith(no));
      if (refused) broken.push(`  ${from} imports ${target}: ${rule.why}`);
    }
  }
}

/*
 * The store's entry point (`nest-redis-session/store`) serves plain Express apps: nothing it reaches,
 * type-only imports included (they reach its declarations), may name Nest.
 */
const storeEntry = join(root, ENTRIES.find((entry) => entry.endsWith('/store.ts')) ?? `${LIB}store.ts`);
const reached = new Set();
const visitFrom = (file) => {
  if (reached.has(file) || !edges.has(file)) return;
  reached.add(file);
  for (const next of edges.get(file)) visitFrom(next);
};
visitFrom(storeEntry);
for (const file of reached) {
  const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  for (const { fileName } of importedFiles) {
    if (fileName.startsWith('@nestjs/')) broken.push(`  ${relative(root, file)} imports ${fileName}: the store entry point must load without Nest`);
  }
}

if (cycles.length > 0) {
  console.error(`Import cycles (type-only imports included): ${cycles.length}`);
  for (const cycle of cycles) console.error(`  ${cycle.map((file) => relative(root, file)).join(' <-> ')}`);
}
if (broken.length > 0) console.error(`Imports against the layering: ${broken.length}\n${broken.join('\n')}`);
if (cycles.length > 0 || broken.length > 0) process.exit(1);
console.log(`No import cycle and no layering break among ${files.length} files of ${roots.join(', ')}`);
