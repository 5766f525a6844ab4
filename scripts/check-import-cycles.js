// npm run lint (after ESLint): fails on any import cycle between the TypeScript files of libs/ and
// apps/, type-only imports included. ESLint's import-x/no-cycle skips `import type`, but a type-only
// cycle still ties two files into one unit: neither can move or split without the other.
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
  if (!specifier.startsWith('.')) return undefined;
  const base = resolve(dirname(from), specifier);
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

if (cycles.length > 0) {
  console.error(`Import cycles (type-only imports included): ${cycles.length}`);
  for (const cycle of cycles) console.error(`  ${cycle.map((file) => relative(root, file)).join(' <-> ')}`);
  process.exit(1);
}
console.log(`No import cycle among ${files.length} files of ${roots.join(', ')}`);
