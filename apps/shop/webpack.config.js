// The shop's webpack build (nest build, webpack: true in nest-cli.json): Nest's defaults, plus the
// session library's Lua scripts copied beside the bundle. The library reads them from disk at load
// time, relative to its own code (libs/session/src/redis/lua-source.ts says why); bundled, its code
// runs from main.js, so `lua/` must sit beside main.js.
const { cpSync } = require('node:fs');
const { dirname, join } = require('node:path');

const LUA = join(__dirname, '../../libs/session/src/redis/lua');

module.exports = (options) => ({
  ...options,
  plugins: [
    ...options.plugins,
    {
      apply(compiler) {
        compiler.hooks.afterEmit.tap('SessionLuaScripts', () => {
          const main = join(compiler.outputPath, options.output.filename);
          cpSync(LUA, join(dirname(main), 'lua'), { recursive: true });
        });
      },
    },
  ],
});
