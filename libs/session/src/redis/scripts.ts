import { joinedValue, storedPairs } from './field-pieces';
import { defineScript, oneOf, statusList, strings, unexpectedReply, type ScriptArgument } from './lua-script';

/*
 * The scripts behind every session write, each defined once: its Lua (lua/*.lua), keys, arguments
 * and checked reply. Each touches one key, so each is atomic and runs on Redis Cluster (but
 * SAVE_AND_INDEX, for standalone and Sentinel only); each does a read and its follow-up write in one
 * round trip. A session is read with a plain HGETALL, no script: a read that has nothing to write
 * then costs Redis one command. So every script that sets a session's PEXPIREAT also sets its expiry
 * field (`FIELD.expiresAt`) to the same time, which is what the read decides on. Replies are named
 * strings ('written', 'gone', …). Only the gateway runs them.
 */

/** 'moved': the key is a renewed session's old one, which takes no write (see `SessionForwarding`). */
export type SaveStatus = 'written' | 'gone' | 'expired' | 'moved';
/** 'moved': left alone, as another write slid it since it was read, or it is a renewed session's old key. */
export type TouchStatus = 'touched' | 'moved' | 'gone' | 'expired';
/** A compare-and-set's outcome; `current` is what the field holds now when it `changed` (undefined: absent). */
export type CompareAndSetReply = { status: 'written' } | { status: 'gone' } | { status: 'moved' } | { status: 'changed'; current: string | undefined };
/** An index join's outcome: the digests evicted to make room (oldest first), or refused under the `reject` policy. */
export type IndexAddReply = { status: 'added'; evicted: string[] } | { status: 'rejected' | 'gone' };
/** A save with its index move: the save's status and the digests evicted, or refused under the `reject` policy. */
export type SaveAndIndexReply = { status: SaveStatus; evicted: string[] } | { status: 'rejected' };

/** A session write (see `SessionGateway.saveSession`). */
export interface SaveSessionArgs {
  redisKey: string;
  mode: 'patch' | 'replace';
  expiresAt: number;
  now: number;
  /**
   * A patch moves the expiry only when that gains at least this many ms on the expiry Redis holds
   * (the idle slide's `touchAfter`); 0 (the default) sets it whenever it differs.
   */
  minGain?: number;
  /**
   * The expiry the writer read: with a `minGain`, a patch leaves alone an expiry another write moved
   * since (a slide, or a shorter window set by app code), since `expiresAt` comes from the writer's
   * own, older copy of the cookie. Undefined: not known.
   */
  expectedExpiry?: number;
  /** Flat [field, value, …] list. */
  set: string[];
  del: string[];
  /** Values longer than this many bytes are sent in pieces (see field-pieces.ts); 0: whole. @default 64 */
  pieceBytes?: number;
}

/** A slide of the idle timeout (see `SessionGateway.touchSession`). */
export interface TouchSessionArgs {
  redisKey: string;
  expiresAt: number;
  now: number;
  absoluteTimeout: number;
  expectedExpiry?: number | null;
  lastSeenAt?: number;
}

/** A compare-and-set of one field (see `SessionGateway.compareAndSet`). */
export interface CompareAndSetArgs {
  redisKey: string;
  field: string;
  expected: string | undefined;
  next: string | undefined;
  expiresAt: number;
  now: number;
  /** Stamped with the expiry, when it moves. */
  lastSeenAt?: number;
  /** The expiry moves only when that gains at least this many ms on Redis's (see `SaveSessionArgs.minGain`). */
  minGain?: number;
  /** See `SaveSessionArgs.expectedExpiry`. */
  expectedExpiry?: number;
  /** See `SaveSessionArgs.pieceBytes`. */
  pieceBytes?: number;
}

/** A session's entry in a user's index: the index's Redis key and the session's digest. */
export interface IndexEntry {
  redisKey: string;
  digest: string;
  /** On an entry a save leaves: the save writes nothing (answered 'gone') unless it is still a member. */
  required?: boolean;
}

/** Where a session joins a user's index: its entry, creation time (the score) and the limit to apply. */
export interface IndexJoin extends IndexEntry {
  createdAt: number;
  /** Members created before this leave first; '-inf' without an absolute timeout. */
  oldestLive: number | '-inf';
  /** 0 means none. */
  limit: number;
  onLimit: 'evict-oldest' | 'reject';
  /** When the index may expire, ms since the epoch: its expiry only ever moves later. */
  indexExpiresAt: number;
}

/** An index join on its own (see `SessionGateway.addToUserIndex`). */
export interface IndexAddArgs extends IndexJoin {
  /** The same session's previous digest, taken out first (an ID change). */
  leaving?: string;
  /** A renewal's move: nothing is added unless `leaving` is still a member (answered 'gone'). */
  onlyMove?: boolean;
}

/** A save and its index move (see `SessionGateway.saveSessionAndIndex`). */
export interface SaveAndIndexArgs {
  save: SaveSessionArgs;
  join?: IndexJoin;
  leave?: IndexEntry;
}

const SAVE_STATUSES: readonly SaveStatus[] = ['written', 'gone', 'expired', 'moved'];

/** The save's ARGV (lua/includes/save-session.lua), which SAVE_AND_INDEX sends after its own. */
function saveArgv({ mode, expiresAt, now, minGain, expectedExpiry, set, del, pieceBytes }: SaveSessionArgs): ScriptArgument[] {
  // Each value as Redis stores it: a long one as its head and pieces (field-pieces.ts).
  const stored: string[] = [];
  for (let i = 0; i < set.length; i += 2) stored.push(...storedPairs(set[i], set[i + 1], pieceBytes));
  return [mode, expiresAt, now, minGain ?? 0, expectedExpiry ?? '', stored.length / 2, ...stored, ...del];
}

/** Writes a session, or deletes it when its expiry is past. */
export const SAVE_SESSION = defineScript({
  name: 'sessionSave',
  file: 'save-session',
  keys: 1,
  args: (save: SaveSessionArgs) => [save.redisKey, ...saveArgv(save)],
  parse: (reply, name): SaveStatus => oneOf(name, reply, SAVE_STATUSES),
});

/** Slides a session's idle timeout, once for parallel requests. */
export const TOUCH_SESSION = defineScript({
  name: 'sessionTouch',
  file: 'touch-session',
  keys: 1,
  args: ({ redisKey, expiresAt, now, absoluteTimeout, expectedExpiry, lastSeenAt }: TouchSessionArgs) => [
    redisKey,
    expiresAt,
    now,
    absoluteTimeout,
    expectedExpiry === undefined ? '*' : expectedExpiry === null ? '' : expectedExpiry,
    lastSeenAt ?? '',
  ],
  parse: (reply, name): TouchStatus => oneOf(name, reply, ['touched', 'moved', 'gone', 'expired']),
});

/** Writes one field only if it still holds what the caller saw. */
export const COMPARE_AND_SET = defineScript({
  name: 'sessionCompareAndSet',
  file: 'compare-and-set',
  keys: 1,
  args: ({ redisKey, field, expected, next, expiresAt, now, lastSeenAt, minGain, expectedExpiry, pieceBytes }: CompareAndSetArgs) => {
    // Both values as Redis stores them: a long one as its head and pieces (field-pieces.ts). A piece of
    // the new value equal to the expected one's is not sent: the script writes only after finding the
    // expected pieces in place.
    const held = expected === undefined ? [] : storedPairs(field, expected, pieceBytes);
    const written = next === undefined ? [] : storedPairs(field, next, pieceBytes);
    const args: ScriptArgument[] = [
      redisKey,
      field,
      expected === undefined ? '0' : '1',
      next === undefined ? '0' : '1',
      expiresAt,
      now,
      lastSeenAt ?? '',
      minGain ?? 0,
      expectedExpiry ?? '',
    ];
    args.push(held.length / 2);
    for (const item of held) args.push(item);
    args.push(written.length / 2);
    for (let i = 0; i < written.length; i += 2) if (written[i + 1] !== held[i + 1]) args.push(written[i], written[i + 1]);
    return args;
  },
  parse: (reply, name): CompareAndSetReply => {
    const [status, head, ...pieces] = statusList(name, reply, ['written', 'gone', 'moved', 'changed']);
    if (status !== 'changed') return { status };
    // Only a string is a value: a missing field is nil on RESP2 and RESP3 alike, but would be 0 or false
    // if the script ever switched to RESP3 replies (redis.setresp(3)). A piece missing leaves the head.
    if (typeof head !== 'string') return { status, current: undefined };
    return { status, current: joinedValue(head, (index) => (typeof pieces[index - 1] === 'string' ? (pieces[index - 1] as string) : undefined)) };
  },
});

/** Adds a session to its user's index under the per-user limit (the index alone: Redis Cluster). */
export const INDEX_ADD = defineScript({
  name: 'sessionIndexAdd',
  file: 'index-add',
  keys: 1,
  args: ({ redisKey, digest, createdAt, oldestLive, limit, onLimit, indexExpiresAt, leaving, onlyMove }: IndexAddArgs) => [
    redisKey,
    digest,
    createdAt,
    oldestLive,
    limit,
    onLimit,
    indexExpiresAt,
    leaving ?? '',
    onlyMove ? 'move' : '',
  ],
  parse: (reply, name): IndexAddReply => {
    const list = statusList(name, reply, ['added', 'rejected', 'gone']);
    if (list[0] === 'rejected' || list[0] === 'gone') return { status: list[0] };
    return { status: 'added', evicted: strings(name, list, 1, "'added' and the evicted digests") };
  },
});

/**
 * SAVE_AND_INDEX's own ARGV, in the order of `INDEX_ARGS` in lua/save-and-index.lua, which counts
 * them to find the save's: joining digest, created ms, oldest live, limit, policy, index expire-at,
 * leaving digest ('' for no join or no leave), '1' when the leaving entry is required.
 */
export function indexArgv(join: IndexJoin | undefined, leave: IndexEntry | undefined): ScriptArgument[] {
  const leaving = leave?.digest ?? '';
  const required = leave?.required ? '1' : '';
  if (!join) return ['', 0, '-inf', 0, 'evict-oldest', 0, leaving, required];
  return [join.digest, join.createdAt, join.oldestLive, join.limit, join.onLimit, join.indexExpiresAt, leaving, required];
}

/** Saves a session and moves its index entry in one step (standalone and Sentinel). */
export const SAVE_AND_INDEX = defineScript({
  name: 'sessionSaveAndIndex',
  file: 'save-and-index',
  keys: 3,
  // A key not used is passed as the session's: every key a script touches must be declared.
  args: ({ save, join, leave }: SaveAndIndexArgs) => [
    save.redisKey,
    join?.redisKey ?? save.redisKey,
    leave?.redisKey ?? save.redisKey,
    ...indexArgv(join, leave),
    ...saveArgv(save),
  ],
  parse: (reply, name): SaveAndIndexReply => {
    const list = statusList(name, reply, ['rejected', ...SAVE_STATUSES]);
    if (list[0] === 'rejected') return { status: 'rejected' };
    return { status: list[0], evicted: strings(name, list, 1, 'a save status and the evicted digests') };
  },
});

/** Moves a user index's expiry later, never earlier; answers 1 when moved. */
export const EXTEND_INDEX = defineScript({
  name: 'sessionExtendIndex',
  file: 'extend-index',
  keys: 1,
  args: ({ redisKey, expiresAt }: { redisKey: string; expiresAt: number }) => [redisKey, expiresAt],
  parse: (reply, name): number => {
    if (reply === 0 || reply === 1) return reply;
    throw unexpectedReply(name, reply, '0 or 1');
  },
});
