import type { Cluster, Redis } from 'ioredis';
import { SessionStoreError } from '../errors/session-store.error';
import { luaSource } from './lua-source';

/** An argument of a Redis call: ioredis sends numbers as their decimal text. */
export type ScriptArgument = string | number;

/**
 * One Lua script, everything the gateway needs of it in one place: the Lua (`lua/<file>.lua`), how
 * many of its arguments are keys, how the arguments are built from named inputs, and what its reply
 * means, checked rather than cast.
 */
export interface LuaScript<Input, Reply> {
  /** The command ioredis defines on the client for it (EVALSHA, falling back to EVAL once); named in errors. */
  readonly name: string;
  /** The source, includes resolved. */
  readonly lua: string;
  /** How many of the arguments `args` builds are keys (KEYS), which come first; the rest is ARGV. */
  readonly keys: number;
  /** The call's arguments: its keys, then ARGV. */
  readonly args: (input: Input) => ScriptArgument[];
  /** What the reply means; throws `SessionStoreError` naming the script (`name`) when Redis answered anything else. */
  readonly parse: (reply: unknown, name: string) => Reply;
}

/** Defines a script: its Lua is read, includes and all, now (at module load), once. */
export function defineScript<Input, Reply>(definition: Omit<LuaScript<Input, Reply>, 'lua'> & { file: string }): LuaScript<Input, Reply> {
  const { file, ...rest } = definition;
  return { ...rest, lua: luaSource(file) };
}

/** Defines `scripts` on a client unless it has them (several stores may share one client). */
export function defineScriptsOn<C extends Redis | Cluster>(client: C, scripts: readonly LuaScript<never, unknown>[]): C {
  for (const script of scripts) {
    if (typeof (client as unknown as Record<string, unknown>)[script.name] !== 'function') {
      client.defineCommand(script.name, { numberOfKeys: script.keys, lua: script.lua });
    }
  }
  return client;
}

/** Runs `script` on a client it was defined on, and answers its checked reply. */
export function runScript<Input, Reply>(client: Redis | Cluster, script: LuaScript<Input, Reply>, input: Input): Promise<Reply> {
  const command = (client as unknown as Record<string, (...args: ScriptArgument[]) => Promise<unknown>>)[script.name];
  return command.apply(client, script.args(input)).then((reply) => script.parse(reply, script.name));
}

/** The reply when it is one of `statuses`; else throws naming the script. */
export function oneOf<S extends string>(script: string, reply: unknown, statuses: readonly S[]): S {
  if (typeof reply === 'string' && (statuses as readonly string[]).includes(reply)) return reply as S;
  throw unexpectedReply(script, reply, `one of ${statuses.map((status) => `'${status}'`).join(', ')}`);
}

/** An array reply, whose first item is one of `statuses`; else throws naming the script. */
export function statusList<S extends string>(script: string, reply: unknown, statuses: readonly S[]): [S, ...unknown[]] {
  if (Array.isArray(reply) && typeof reply[0] === 'string' && (statuses as readonly string[]).includes(reply[0])) return reply as [S, ...unknown[]];
  throw unexpectedReply(script, reply, `a list starting with one of ${statuses.map((status) => `'${status}'`).join(', ')}`);
}

/** The items of a list reply from `from` on, each a string; else throws naming the script. */
export function strings(script: string, reply: unknown[], from: number, what: string): string[] {
  const items = reply.slice(from);
  if (items.every((item) => typeof item === 'string')) return items;
  throw unexpectedReply(script, reply, what);
}

/**
 * The error for a reply a script never sends: a bug, or another command of the same name defined on
 * a shared client. Its message describes the reply's shape only, never its text (which may hold
 * session data).
 */
export function unexpectedReply(script: string, reply: unknown, expected: string): SessionStoreError {
  return new SessionStoreError(`Session script "${script}" got an unexpected reply from Redis: ${shapeOf(reply)}, where it answers ${expected}`);
}

function shapeOf(reply: unknown): string {
  if (reply === null || reply === undefined) return 'nil';
  if (typeof reply === 'number') return `the integer ${reply}`;
  // A status word names the mismatch at once; any other text is left out.
  if (typeof reply === 'string') return /^[a-z-]{1,20}$/.test(reply) ? `'${reply}'` : `a string of ${reply.length} characters`;
  if (Array.isArray(reply)) return reply.length === 0 ? 'an empty list' : `a list of ${reply.length} starting with ${shapeOf(reply[0])}`;
  return `a value of type ${typeof reply}`;
}
