import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The folder of uPlot's browser build (`uPlot.iife.min.js`, `uPlot.min.css`) in the installed
 * `uplot` package, found by walking up from this file: the same from source and from the webpack
 * bundle, where `require.resolve` would answer a module id rather than a path.
 */
export function uplotDir(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', 'uplot', 'dist');
    if (existsSync(join(candidate, 'uPlot.iife.min.js'))) return candidate;
    if (dirname(dir) === dir) throw new Error(`The "uplot" package (the operations panel's chart) is not installed above ${__dirname}: run npm install`);
  }
}
