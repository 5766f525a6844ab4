import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { REDIS_COMMAND_NEEDS, minimalAclRules } from './redis-permissions';
import { neededCommands } from './check-redis-permissions';

const LIBRARY_ROOT = join(__dirname, '..', '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.spec.ts') ? [path] : [];
  });
}

/** Commands the library's source sends: Lua's redis.call, ioredis's call('CMD'), and ioredis command methods. */
function commandsInSource(): Set<string> {
  // Not ACL-checked (QUIT), or optional with a fallback the probe documents (CONFIG GET: 'unknown' policy).
  const exempt = new Set(['quit', 'config|get']);
  const notCommands = new Set(['call', 'disconnect', 'nodes', 'off', 'on', 'once']);
  const found = new Set<string>();
  for (const file of sourceFiles(join(LIBRARY_ROOT, 'src'))) {
    const text = readFileSync(file, 'utf8');
    for (const [, name] of text.matchAll(/redis\.call\('(\w+)'/g)) found.add(name.toLowerCase());
    for (const [, name, sub] of text.matchAll(/\.call\(\s*'([A-Z]+)'(?:,\s*'([A-Za-z-]+)')?/g)) {
      found.add(['CLUSTER', 'CONFIG', 'CLIENT'].includes(name) ? `${name}|${sub}`.toLowerCase() : name.toLowerCase());
    }
    for (const [, name] of text.matchAll(/\b(?:client|node|cluster)\.([a-z]+)\(/g)) if (!notCommands.has(name)) found.add(name);
  }
  return new Set([...found].filter((name) => !exempt.has(name)));
}

describe('the Redis commands the library needs', () => {
  it('lists every command the source sends, so the boot check and the README line cover them', () => {
    const listed = new Set(REDIS_COMMAND_NEEDS.map((need) => need.command));
    const missing = [...commandsInSource()].filter((command) => !listed.has(command));
    expect(missing).toEqual([]);
  });

  it('lists each command once', () => {
    const commands = REDIS_COMMAND_NEEDS.map((need) => need.command);
    expect(commands.length).toBe(new Set(commands).size);
  });

  it('is the ACL line the README documents', () => {
    const readme = readFileSync(join(LIBRARY_ROOT, 'README.md'), 'utf8');
    expect(readme).toContain(`ACL SETUSER sessions on >change-me ${minimalAclRules('sess:')}`);
  });

  it('grants only keys and channels under the prefix, besides the two notification channels', () => {
    expect(minimalAclRules('app:*')).toMatch(/^resetkeys ~app:\\\*\* resetchannels &__redis__:\* &__keyevent@\*__:expired &app:\\\*\* -@all \+/);
  });

  it('checks at boot only what the options in use need', () => {
    const plain = neededCommands({ prefix: 'p:', durability: false, metrics: false }, false).map((need) => need.command);
    expect(plain).toContain('hset');
    expect(plain).not.toContain('wait');
    expect(plain).not.toContain('pfadd');
    expect(plain).not.toContain('cluster|slots');
    expect(plain).not.toContain('subscribe');
    const all = neededCommands({ prefix: 'p:', durability: true, metrics: true, nearCache: true }, true).map((need) => need.command);
    expect(all).toEqual(expect.arrayContaining(['wait', 'pfadd', 'pfcount', 'cluster|slots', 'cluster|info', 'subscribe', 'publish', 'set']));
    // CLIENT TRACKING has a fallback (PUBLISH): refusing it must not stop the app at boot.
    expect(all).not.toContain('client|tracking');
    expect(neededCommands({ prefix: 'p:', durability: false, metrics: false }, false).find((need) => need.command === 'hset')?.probe).toEqual([
      'p:permission-check',
      'f',
      'v',
    ]);
  });
});
