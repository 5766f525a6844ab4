import { ReplyError, type Cluster, type Redis } from 'ioredis';
import { joinedValue, pieceCount, pieceField } from './field-pieces';
import type { GatewayCalls } from './gateway-calls';
import { FIELD, asFieldRecord, type RenewalRecord, type StoredFields } from './session-fields';
import type { StoreCallFacts } from './session-observer';

/*
 * The gateway's reads of session keys: plain commands, no script, so a read that has nothing to
 * write costs Redis one command.
 */

/** A session's hash, null when absent, `wrongType` when the key holds something else (see `SessionGateway.readSession`). */
export function readSession(calls: GatewayCalls, redisKey: string): Promise<StoredFields | null | 'wrongType'> {
  // A chain rather than an async function: every request reads, and each promise less counts.
  return calls.call('load', (client) => client.hgetall(redisKey).then(asFieldRecord), readFacts).catch(wrongTypeOrThrow);
}

/** A key's renewal marks alone (see `SessionGateway.readRenewalMarks`). */
export function readRenewalMarks(calls: GatewayCalls, redisKey: string): Promise<RenewalRecord> {
  return calls
    .call('load', (client) => client.hmget(redisKey, FIELD.successor, FIELD.ended))
    .then(([successor, ended]) => (ended !== null ? 'ended' : successor !== null ? 'renewed' : 'session'));
}

/** One field of a hash, whole, undefined when absent. */
export async function readField(calls: GatewayCalls, redisKey: string, field: string): Promise<string | undefined> {
  const [value] = await calls.call('update', (client) => readWholeFields(client, redisKey, [field]));
  return value ?? undefined;
}

/**
 * Some fields of a hash, each value whole (null when absent): one HMGET, and one more for the pieces
 * of the values stored in pieces (see `field-pieces.ts`), when there are any.
 */
export function readWholeFields(client: Redis | Cluster, redisKey: string, fields: string[]): Promise<(string | null)[]> {
  return client.hmget(redisKey, ...fields).then((heads) => {
    const pieces: string[] = [];
    heads.forEach((head, i) => {
      for (let index = 1; head !== null && index < pieceCount(head); index++) pieces.push(pieceField(fields[i], index));
    });
    if (pieces.length === 0) return heads;
    return client.hmget(redisKey, ...pieces).then((values) => {
      const byField = new Map(pieces.map((piece, i) => [piece, values[i]]));
      return heads.map((head, i) => (head === null ? null : joinedValue(head, (index) => byField.get(pieceField(fields[i], index)))));
    });
  });
}

/** A read's failure: 'wrongType' when the key is not a hash, else rethrown. */
function wrongTypeOrThrow(error: unknown): 'wrongType' {
  if (error instanceof ReplyError && /WRONGTYPE/.test((error as Error).message)) return 'wrongType';
  throw error;
}

/** Bytes of a read session's fields and values. */
function readFacts(fields: StoredFields | null): StoreCallFacts {
  if (!fields) return { result: 'gone' };
  let bytes = 0;
  for (const field of Object.keys(fields)) bytes += field.length + fields[field].length;
  return { result: 'ok', bytes };
}
