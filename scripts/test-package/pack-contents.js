'use strict';
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

const REQUIRED = ['README.md', 'LICENSE', 'CHANGELOG.md', 'package.json', 'index.js', 'index.d.ts'];
// .lua: the Redis scripts, read by the compiled code at run time.
const ALLOWED = /^(README\.md|LICENSE|CHANGELOG\.md|package\.json|.+\.js|.+\.d\.ts|.+\.lua)$/;
const TEST_FILE = /(\.spec\.|\.e2e-spec\.|\.test\.|(^|\/)(test|tests|__tests__|fixtures?|support)\/)/;

/**
 * Checks `npm pack --dry-run --json`'s file list: what a user downloads is the README, licence,
 * changelog, package.json, the compiled code with its types and the Redis scripts; no spec, test helper, source map or
 * TypeScript source. Returns the paths, throws naming every file that should not be there.
 */
function checkPackContents(pack, packageDir) {
  const paths = pack.files.map((file) => file.path);
  const problems = [];
  for (const required of REQUIRED) if (!paths.includes(required)) problems.push(`missing ${required}`);
  for (const path of paths) {
    if (!ALLOWED.test(path)) problems.push(`unexpected ${path}`);
    else if (TEST_FILE.test(path)) problems.push(`test file ${path}`);
    else if (path.endsWith('.js') && /sourceMappingURL=/.test(readFileSync(join(packageDir, path), 'utf8'))) {
      problems.push(`${path} points at a source map the package does not hold`);
    }
  }
  const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
  for (const field of ['repository', 'homepage', 'bugs', 'files', 'exports', 'types', 'license']) {
    if (manifest[field] === undefined) problems.push(`package.json has no "${field}"`);
  }
  // Every entry point of the exports map (`.`, `./health`, `./store`) must ship its code and types.
  for (const [subpath, target] of Object.entries(manifest.exports ?? {})) {
    for (const file of typeof target === 'string' ? [target] : Object.values(target)) {
      if (!paths.includes(file.replace(/^\.\//, ''))) problems.push(`exports "${subpath}" points at ${file}, which the tarball lacks`);
    }
  }
  if (problems.length > 0) throw new Error(`the tarball is not what users should get:\n  ${problems.join('\n  ')}`);
  return paths;
}

module.exports = { checkPackContents };
