import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { REDIS_COMMAND_NEEDS, minimalAclRules } from './redis-permissions';
import { neededCommands, type PermissionScope } from './check-redis-permissions';
import { eventsChannel, nearCacheChannel } from './redis-keys';

const LIBRARY_ROOT = join(__dirname, '..', '..');

/** The library's code: TypeScript (specs aside) and the Lua scripts. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return (name.endsWith('.ts') && !name.endsWith('.spec.ts')) || name.endsWith('.lua') ? [path] : [];
  });
}

const SOURCE = sourceFiles(join(LIBRARY_ROOT, 'src')).map((file) => readFileSync(file, 'utf8'));

/** Commands the library's source sends: Lua's redis.call, ioredis's call('CMD'), and ioredis command methods. */
function commandsInSource(): Set<string> {
  // Not ACL-checked (QUIT), or optional with a fallback the README documents (CONFIG GET by the health check: 'unknown' policy).
  const exempt = new Set(['quit']);
  const notCommands = new Set(['call', 'disconnect', 'nodes', 'off', 'on', 'once']);
  const found = new Set<string>();
  for (const text of SOURCE) {
    // Lua: redis.call, and the helpers of lua/includes/call-in-chunks.lua, which send their command in parts.
    for (const [, name] of text.matchAll(/(?:redis\.call|call_in_chunks|call_list_in_chunks)\('(\w+)'/g)) found.add(name.toLowerCase());
    if (/\bhmget_in_chunks\(/.test(text)) found.add('hmget');
    for (const [, name, sub] of text.matchAll(/\.call\(\s*'([A-Z]+)'(?:,\s*'([A-Za-z-]+)')?/g)) {
      found.add(['CLUSTER', 'CONFIG', 'CLIENT'].includes(name) ? `${name}|${sub}`.toLowerCase() : name.toLowerCase());
    }
    for (const [, name] of text.matchAll(/\b(?:client|node|cluster)\.([a-z]+)\(/g)) if (!notCommands.has(name)) found.add(name);
    // ioredis methods whose first argument is the subcommand: connection.config('GET', …), subscriber.client('ID').
    for (const [, name, sub] of text.matchAll(/\.(config|client)\('([A-Z]+)'/g)) found.add(`${name}|${sub.toLowerCase()}`);
    for (const [, name] of text.matchAll(/\.(subscribe|psubscribe|publish)\(/g)) found.add(name);
  }
  return new Set([...found].filter((name) => !exempt.has(name)));
}

/** Sent by ioredis itself, never named in the library's source: its ready checks, the slot map, and defineCommand's EVALSHA/EVAL. */
const SENT_BY_IOREDIS = ['info', 'eval', 'evalsha', 'cluster|slots'];

const PLAIN: PermissionScope = { prefix: 'p:', durability: false, metrics: false, crossReplicaEvents: false, expiredEvents: 'off' };
const commandsOf = (scope: Partial<PermissionScope>, cluster = false) => neededCommands({ ...PLAIN, ...scope }, cluster).map((need) => need.command);

describe('the Redis commands the library needs', () => {
  it('lists every command the source sends, so the boot check and the README line cover them', () => {
    const listed = new Set(REDIS_COMMAND_NEEDS.map((need) => need.command));
    const missing = [...commandsInSource()].filter((command) => !listed.has(command));
    expect(missing).toEqual([]);
  });

  it('lists only commands the library or ioredis sends: nothing granted for a feature that does not use it', () => {
    const sent = new Set([...commandsInSource(), ...SENT_BY_IOREDIS]);
    // Methods named like a command (node.role(), tracker.set(…)): any call of that name counts.
    const called = (command: string) => SOURCE.some((text) => new RegExp(`\\.${command.split('|')[0]}\\(`).test(text));
    const unused = REDIS_COMMAND_NEEDS.map((need) => need.command).filter((command) => !sent.has(command) && !called(command));
    expect(unused).toEqual([]);
  });

  it('lists each command once per use', () => {
    const entries = REDIS_COMMAND_NEEDS.map((need) => `${need.command} ${need.use}`);
    expect(entries.length).toBe(new Set(entries).size);
  });

  it('is the ACL line the README documents, each command once', () => {
    const readme = readFileSync(join(LIBRARY_ROOT, 'README.md'), 'utf8');
    expect(readme).toContain(`ACL SETUSER sessions on >change-me ${minimalAclRules('sess:')}`);
    const commands = minimalAclRules('sess:')
      .split(' ')
      .filter((rule) => rule.startsWith('+'));
    expect(commands.length).toBe(new Set(commands).size);
  });

  it('grants only keys and channels under the prefix, besides the two notification channels', () => {
    expect(minimalAclRules('app:*')).toMatch(/^resetkeys ~app:\\\*\* resetchannels &__redis__:\* &__keyevent@\*__:expired &app:\\\*\* -@all \+/);
  });

  it('leaves CONFIG out of the README line, and adds it for an app that has the library configure expired notifications', () => {
    expect(minimalAclRules('sess:')).not.toContain('config');
    expect(minimalAclRules('sess:', ['configureExpiredEvents'])).toContain('+config|get +config|set');
  });

  it('checks at boot only what the options in use need', () => {
    const plain = commandsOf({});
    expect(plain).toContain('hset');
    for (const command of ['wait', 'pfadd', 'cluster|slots', 'subscribe', 'publish', 'set', 'config|get', 'config|set']) expect(plain).not.toContain(command);
    expect(commandsOf({ durability: true })).toContain('wait');
    expect(commandsOf({ metrics: true })).toEqual(expect.arrayContaining(['pfadd', 'pfcount']));
    expect(commandsOf({}, true)).toEqual(expect.arrayContaining(['cluster|slots', 'cluster|info']));
    expect(commandsOf({ nearCache: true })).toEqual(expect.arrayContaining(['subscribe', 'publish', 'set']));
    // CLIENT TRACKING has a fallback (PUBLISH): refusing it must not stop the app at boot.
    expect(commandsOf({ nearCache: true })).not.toContain('client|tracking');
    expect(neededCommands({ ...PLAIN }, false).find((need) => need.command === 'hset')?.probe).toEqual([expect.stringMatching(/^p:/), 'f', 'v']);
  });

  it('checks the events features on their own channels, naming the option that needs each command', () => {
    const cross = neededCommands({ ...PLAIN, crossReplicaEvents: true }, false).filter((need) => need.use === 'crossReplicaEvents');
    expect(cross.map(({ command, probe }) => [command, probe[0]])).toEqual([
      ['subscribe', eventsChannel('p:')],
      ['publish', eventsChannel('p:')],
    ]);
    for (const need of cross) expect(need.why).toContain('events.crossReplica');

    const listen = neededCommands({ ...PLAIN, expiredEvents: 'listen' }, false, 3);
    expect(listen.filter((need) => need.use === 'expiredEvents').map(({ command, probe }) => [command, ...probe])).toEqual([
      ['subscribe', '__keyevent@3__:expired'],
    ]);
    // Listening only: the listener reads notify-keyspace-events if it may, and warns otherwise.
    expect(listen.map((need) => need.command)).not.toContain('config|get');
    const configure = commandsOf({ expiredEvents: 'configure' });
    expect(configure).toEqual(expect.arrayContaining(['subscribe', 'config|get', 'config|set']));

    const nearCache = neededCommands({ ...PLAIN, nearCache: true }, false).find((need) => need.command === 'publish');
    expect(nearCache?.probe[0]).toBe(nearCacheChannel('p:'));
  });
});
