import { ReplyError } from 'ioredis';
import { messages } from '../errors/session.messages';
import { SessionStoreError } from '../errors/session-store.error';
import type { GatewayCalls } from './gateway-calls';
import { EXTEND_INDEX, INDEX_ADD, SAVE_AND_INDEX, type IndexAddArgs, type IndexAddReply, type SaveAndIndexArgs, type SaveAndIndexReply } from './scripts';
import { FIELD } from './session-fields';
import { readWholeFields } from './session-reads';
import { saveFacts } from './session-writes';

/*
 * The gateway's calls on users' indexes (a sorted set of session digests per user, scored by
 * creation time) and the reads that listing a user's sessions needs.
 */

/** See `SessionGateway.addToUserIndex`. */
export function addToUserIndex(calls: GatewayCalls, join: IndexAddArgs): Promise<IndexAddReply> {
  return onIndex(calls.script('index', INDEX_ADD, join, ({ status }) => ({ result: status === 'rejected' ? 'conflict' : 'ok' }), join.redisKey));
}

/** See `SessionGateway.saveSessionAndIndex`. */
export function saveSessionAndIndex(calls: GatewayCalls, move: SaveAndIndexArgs): Promise<SaveAndIndexReply> {
  return onIndex(calls.script('save', SAVE_AND_INDEX, move, ({ status }) => saveFacts(move.save, status), move.save.redisKey));
}

/** See `SessionGateway.extendUserIndex`. */
export function extendUserIndex(calls: GatewayCalls, redisKey: string, expiresAt: number): Promise<number> {
  return onIndex(calls.script('index', EXTEND_INDEX, { redisKey, expiresAt }, undefined, redisKey));
}

/**
 * 1 when the key holds a session (its creation time, which every save writes) or the `moving` mark of
 * one a regenerate is moving to a new ID. A tombstone or a retired forward pointer holds neither.
 */
export function holdsSession(calls: GatewayCalls, redisKey: string): Promise<number> {
  return calls
    .call('index', (client) => client.hmget(redisKey, FIELD.createdAt, FIELD.moving))
    .then(([created, moving]) => (created !== null || moving !== null ? 1 : 0));
}

/** The device fields of a session (creation, last seen, user agent, IP) and its `moving` mark, null each when absent. */
export function deviceFields(calls: GatewayCalls, redisKey: string): Promise<(string | null)[]> {
  return calls.call('index', (client) => readWholeFields(client, redisKey, [FIELD.createdAt, FIELD.lastSeenAt, FIELD.userAgent, FIELD.ip, FIELD.moving]));
}

/** Members of a sorted set scored between `max` and `min`, highest score first. */
export function membersByScore(calls: GatewayCalls, redisKey: string, max: number | string, min: number | string): Promise<string[]> {
  return onIndex(calls.call('index', (client) => client.zrange(redisKey, String(max), String(min), 'BYSCORE', 'REV')));
}

/** One member of a user's index: a session's digest, scored by the session's creation time. */
export interface IndexMember {
  digest: string;
  score: number;
}

/** As `membersByScore`, each member with its score. */
export function entriesByScore(calls: GatewayCalls, redisKey: string, max: number | string, min: number | string): Promise<IndexMember[]> {
  const read = calls.call('index', (client) => client.zrange(redisKey, String(max), String(min), 'BYSCORE', 'REV', 'WITHSCORES'));
  return onIndex(read).then((reply) => scoredMembers(reply as unknown[]));
}

/**
 * A WITHSCORES reply as members: RESP2 answers member, score, member, score…; RESP3 (a client on
 * `protocol: 3` with ioredis' RESP3 reply mapping) a [member, score] pair each, its score a double.
 */
function scoredMembers(reply: unknown[]): IndexMember[] {
  const members: IndexMember[] = [];
  if (Array.isArray(reply[0])) {
    for (const [digest, score] of reply as [string, string | number][]) members.push({ digest: String(digest), score: Number(score) });
    return members;
  }
  for (let i = 0; i + 1 < reply.length; i += 2) members.push({ digest: String(reply[i]), score: Number(reply[i + 1]) });
  return members;
}

/** ZREM: how many of `members` were removed. */
export function removeMembers(calls: GatewayCalls, redisKey: string, members: string[]): Promise<number> {
  return onIndex(calls.call('index', (client) => client.zrem(redisKey, ...members), undefined, redisKey));
}

/**
 * A call on a user's index whose key holds another type of value (something else wrote there): a
 * `SessionStoreError` saying so, answered 500 with that message, where Redis's own WRONGTYPE reply
 * (which the gateway leaves to callers that can read such a key as absent) would be a bare 500.
 */
function onIndex<T>(call: Promise<T>): Promise<T> {
  return call.catch((error: unknown) => {
    if (error instanceof ReplyError && /^WRONGTYPE/.test((error as Error).message))
      throw new SessionStoreError(messages.userIndexWrongType(), { cause: error });
    throw error;
  });
}
