import { ReplyError } from 'ioredis';
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

/** One field of a hash, undefined when absent. */
export async function readField(calls: GatewayCalls, redisKey: string, field: string): Promise<string | undefined> {
  const value = await calls.call('update', (client) => client.hget(redisKey, field));
  return value ?? undefined;
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
