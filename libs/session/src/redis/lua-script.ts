import { createHash } from 'node:crypto';
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
  /** What errors and the script's tests call it. */
  readonly name: string;
  /** The source, includes resolved. */
  readonly lua: string;
  /** The SHA-1 of `lua`, by which EVALSHA runs it from Redis's script cache. */
  readonly sha: string;
  /** How many of the arguments `args` builds are keys (KEYS), which come first; the rest is ARGV. */
  readonly keys: number;
  /** The call's arguments: its keys, then ARGV. */
  readonly args: (input: Input) => ScriptArgument[];
  /** What the reply means; throws `SessionStoreError` naming the script (`name`) when Redis answered anything else. */
  readonly parse: (reply: unknown, name: string) => Reply;
}

/** Defines a script: its Lua is read, includes and all, now (at module load), once. */
export function defineScript<Input, Reply>(definition: Omit<LuaScript<Input, Reply>, 'lua' | 'sha'> & { file: string }): LuaScript<Input, Reply> {
  const { file, ...rest } = definition;
  const lua = luaSource(file);
  return { ...rest, lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/**
 * Runs `script` and answers its checked reply: EVALSHA, and EVAL once when this Redis does not have
 * the script cached yet (its first call after a start, a failover or SCRIPT FLUSH; EVAL caches it).
 * Sent as the client's plain `evalsha` rather than a command `defineCommand` adds: ioredis copies every
 * defined command onto each pipeline it makes, and auto-pipelining makes one per batch of commands,
 * so defined scripts cost every request some µs whether it runs a script or not (bench/README).
 */
export function runScript<Input, Reply>(client: Redis | Cluster, script: LuaScript<Input, Reply>, input: Input): Promise<Reply> {
  const args = script.args(input);
  return client.evalsha(script.sha, script.keys, ...args).then(
    (reply) => script.parse(reply, script.name),
    (error: unknown) => {
      if (!isNoScript(error)) throw error;
      return client.eval(script.lua, script.keys, ...args).then((reply) => script.parse(reply, script.name));
    },
  );
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
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
