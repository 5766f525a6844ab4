'use strict';
// npm run api:check / npm run api:update: the package's public surface as API Extractor reports it.
// Builds the library (npm run build:lib), then runs API Extractor (libs/session/api-extractor.json)
// over the built declarations of every entry point in the package's "exports" map, one report each
// in libs/session/api/. --check (CI) fails, printing the difference, when a report no longer matches
// what the code exports, or when a public declaration names a type its entry point does not export;
// --update rewrites the reports, to be committed with the change that made them differ.

const { execFileSync } = require('node:child_process');
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const { Extractor, ExtractorConfig } = require('@microsoft/api-extractor');

const ROOT = join(__dirname, '..');
const CONFIG = join(ROOT, 'libs/session/api-extractor.json');
const PACKAGE_DIR = join(ROOT, 'dist/libs/session');
const REPORT_PREFIX = 'nest-redis-session';

function main() {
  const mode = process.argv[2];
  if (mode !== '--check' && mode !== '--update') throw new Error('usage: node scripts/api-report.js --check | --update');
  execFileSync(process.execPath, [join(__dirname, 'build-lib.js')], { stdio: 'inherit' });
  const entryPoints = entryPointsOf(JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8')));
  const failed = entryPoints.filter((entryPoint) => !report(entryPoint, mode === '--update'));
  const names = (list) => list.map((entryPoint) => entryPoint.subpath).join(', ');
  if (failed.length > 0) {
    const hint = mode === '--check' ? ' (npm run api:update rewrites the reports; commit them with the change)' : '';
    console.error(`api report: ${names(failed)} failed${hint}`);
    process.exitCode = 1;
  } else {
    console.log(`api report: ${names(entryPoints)} ${mode === '--check' ? 'match libs/session/api/' : 'written to libs/session/api/'}`);
  }
}

/** Every subpath of the "exports" map that has types: `.` → nest-redis-session.api.md, `./health` → nest-redis-session-health.api.md. */
function entryPointsOf(manifest) {
  return Object.entries(manifest.exports)
    .filter(([, target]) => typeof target === 'object' && target.types)
    .map(([subpath, target]) => ({
      subpath,
      declarations: join(PACKAGE_DIR, target.types),
      reportName: subpath === '.' ? REPORT_PREFIX : `${REPORT_PREFIX}-${subpath.slice(2).replaceAll('/', '-')}`,
    }));
}

/** Runs API Extractor on one entry point; true when it passed (check) or wrote its report (update). */
function report(entryPoint, update) {
  const configObject = ExtractorConfig.loadFile(CONFIG);
  configObject.mainEntryPointFilePath = entryPoint.declarations;
  configObject.compiler.overrideTsconfig.files = [entryPoint.declarations];
  configObject.apiReport.reportFileName = entryPoint.reportName;
  const config = ExtractorConfig.prepare({
    configObject,
    configObjectFullPath: CONFIG,
    packageJsonFullPath: join(PACKAGE_DIR, 'package.json'),
  });
  const result = Extractor.invoke(config, { localBuild: update, showVerboseMessages: false, printApiReportDiff: !update });
  if (update && result.apiReportChanged) console.log(`api report: ${entryPoint.subpath} changed, libs/session/api/${entryPoint.reportName}.api.md rewritten`);
  return result.succeeded;
}

main();
