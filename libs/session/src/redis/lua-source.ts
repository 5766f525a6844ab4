import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PIECE_BYTES, PIECE_MARK } from './field-pieces';
import { FIELD, MAX_EXPIRY_MS } from './session-fields';

/*
 * The Lua scripts live in `lua/` as plain .lua files (one per script, shared parts in
 * `lua/includes/`), read from disk once, when this module loads, beside the compiled code: that one
 * way works wherever the library runs. ts-jest and ts-node run the source tree, where the files are;
 * `npm run build:lib` (scripts/build-lib.js) copies them into dist/libs/session, the folder npm
 * publishes; the shop's webpack bundle gets them copied beside main.js (apps/shop/webpack.config.js),
 * which is what `__dirname` names in a bundle. Importing the text through a bundler loader or a
 * generated .ts file would have needed a build step before every test run, or a transform per tool.
 */
const LUA_DIR = join(__dirname, 'lua');

/** `--- @include "includes/name"` on a line of its own: the named file's text goes there, once per script. */
const INCLUDE = /^--- @include "([\w/-]+)"[ \t]*$/gm;

/**
 * Includes made from TypeScript rather than read: the hash field names, spelled once in
 * `session-fields.ts`, as the `FIELD` table the scripts index (`FIELD.successor`).
 */
const GENERATED: Readonly<Record<string, string>> = {
  fields: [
    '-- The hash fields the library keeps beside the session keys (session-fields.ts).',
    `local FIELD = { ${Object.entries(FIELD)
      .map(([name, field]) => `${name} = '${field}'`)
      .join(', ')} }`,
    '-- The latest expiry a session can have (a cookie carries four-digit years).',
    `local MAX_EXPIRY_MS = ${MAX_EXPIRY_MS}`,
    '-- A value longer than PIECE_BYTES is stored in pieces, its head starting with PIECE_MARK (field-pieces.ts).',
    `local PIECE_BYTES = ${PIECE_BYTES}`,
    `local PIECE_MARK = '\\${String(PIECE_MARK.charCodeAt(0)).padStart(3, '0')}'`,
  ].join('\n'),
};

/**
 * The source of the script in `lua/<name>.lua`, includes resolved: each include's text replaces its
 * line, the first time the script (or one of its includes) names it; later mentions are dropped.
 * Throws naming the file when one cannot be read, and naming the field when a script uses a
 * `FIELD.<name>` that `FIELD` lacks (Lua would pass nil to Redis and fail only when the line runs).
 * `read` is for tests: the text of a file by name.
 */
export function luaSource(name: string, read: (name: string) => string = readLuaFile): string {
  const expand = (file: string, included: Set<string>): string =>
    (Object.prototype.hasOwnProperty.call(GENERATED, file) ? GENERATED[file] : read(file)).replace(INCLUDE, (_line, include: string) => {
      if (included.has(include)) return '';
      included.add(include);
      return expand(include, included);
    });
  const source = expand(name, new Set([name]));
  for (const [, field] of source.matchAll(/\bFIELD\.(\w+)/g)) {
    if (!Object.prototype.hasOwnProperty.call(FIELD, field))
      throw new Error(`Lua script "${name}" uses FIELD.${field}, which session-fields.ts does not define`);
  }
  return source;
}

function readLuaFile(name: string): string {
  const path = join(LUA_DIR, `${name}.lua`);
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(
      `nest-redis-session cannot read its Lua script ${path} (${(error as Error).message}): a bundle of the library needs its redis/lua folder copied beside it`,
      { cause: error },
    );
  }
}
