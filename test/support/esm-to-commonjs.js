// @ts-check
/**
 * Jest transform for packages published as ES modules only (Nest 12). Node loads them from CommonJS
 * through require(esm), but Jest's own module system cannot before Node 24.9, so each file is
 * transpiled to CommonJS here. `import.meta` has no CommonJS meaning: it becomes the file's own URL,
 * path and folder, which is all these packages read from it (to build a `createRequire`).
 */
const { createHash } = require('node:crypto');
const { readFileSync } = require('node:fs');
const ts = require('typescript');

const IMPORT_META = "({ url: require('node:url').pathToFileURL(__filename).href, filename: __filename, dirname: __dirname })";
const SELF = readFileSync(__filename);

/** @type {import('@jest/transform').SyncTransformer} */
module.exports = {
  canInstrument: false,
  getCacheKey(source, path) {
    return createHash('sha1').update(SELF).update(ts.version).update(path).update(source).digest('hex');
  },
  process(source, path) {
    // An ES module may build its own `require` (`const require = createRequire(import.meta.url)`, as
    // @nestjs/terminus does); in CommonJS that name is already the module's own, which does the same.
    const esm = source.replace(/^(\s*)const require = createRequire\(import\.meta\.url\);?/m, '$1// require: the CommonJS one');
    const { outputText } = ts.transpileModule(esm.replace(/\bimport\.meta\b/g, IMPORT_META), {
      fileName: path,
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        allowJs: true,
        esModuleInterop: true,
        inlineSourceMap: false,
      },
    });
    return { code: outputText };
  },
};
