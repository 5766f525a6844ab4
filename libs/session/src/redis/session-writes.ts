import type { GatewayCalls } from './gateway-calls';
import { DESTROY_SESSION } from './renewal-scripts';
import {
  COMPARE_AND_SET,
  SAVE_SESSION,
  TOUCH_SESSION,
  type CompareAndSetArgs,
  type CompareAndSetReply,
  type SaveSessionArgs,
  type SaveStatus,
  type TouchSessionArgs,
  type TouchStatus,
} from './scripts';
import type { StoreCallFacts } from './session-observer';

/*
 * The gateway's writes of one session key: saves, slides, compare-and-set, and the deletions, which
 * resolve only once this replica's near cache heard Redis drop the key.
 */

/** See `SessionGateway.saveSession`. */
export async function saveSession(calls: GatewayCalls, save: SaveSessionArgs): Promise<{ status: SaveStatus }> {
  const status = await calls.script('save', SAVE_SESSION, save, (reply) => saveFacts(save, reply), save.redisKey);
  return { status };
}

/** See `SessionGateway.touchSession`. */
export async function touchSession(calls: GatewayCalls, touch: TouchSessionArgs): Promise<{ status: TouchStatus }> {
  const status = await calls.script('touch', TOUCH_SESSION, touch, (reply) => ({ result: reply === 'gone' ? 'gone' : 'ok' }), touch.redisKey);
  return { status };
}

/** See `SessionGateway.compareAndSet`. */
export function compareAndSet(calls: GatewayCalls, update: CompareAndSetArgs): Promise<CompareAndSetReply> {
  return calls.script(
    'update',
    COMPARE_AND_SET,
    update,
    ({ status }) => ({
      result: status === 'changed' ? 'conflict' : status === 'gone' || status === 'moved' ? 'gone' : 'ok',
      bytes: update.next?.length ?? 0,
      fieldsChanged: 1,
    }),
    update.redisKey,
  );
}

/** See `SessionGateway.destroySession`. */
export function destroySession(
  calls: GatewayCalls,
  redisKey: string,
  tombstoneMs: number,
  moving = false,
): Promise<{ deleted: number; sealedSuccessor: string | undefined }> {
  return afterInvalidation(
    calls,
    redisKey,
    () => calls.script('destroy', DESTROY_SESSION, { redisKey, tombstoneMs, now: Date.now(), moving }, undefined, redisKey),
    (reply) => reply.deleted,
  );
}

/** See `SessionGateway.deleteKey`. */
export function deleteKey(calls: GatewayCalls, redisKey: string): Promise<number> {
  return afterInvalidation(
    calls,
    redisKey,
    () => calls.call('destroy', (client) => client.del(redisKey), undefined, redisKey),
    (deleted) => deleted,
  );
}

/**
 * Runs a deletion of `redisKey` and, when it deleted something, waits until this replica's near cache
 * has dropped the key through Redis's own invalidation, which Redis sends to every replica at the
 * same moment (logout, revoke, …: no replica serves the session after the caller hears back).
 */
async function afterInvalidation<T>(calls: GatewayCalls, redisKey: string, run: () => Promise<T>, deleted: (reply: T) => number): Promise<T> {
  const invalidation = calls.writeListener?.expectInvalidation(redisKey);
  try {
    const reply = await run();
    if (deleted(reply) > 0 && invalidation) await invalidation.arrived;
    return reply;
  } finally {
    invalidation?.cancel();
  }
}

/** What a save did, for metrics and traces; 'rejected' is a join refused under the per-user limit. */
export function saveFacts(save: SaveSessionArgs, status: SaveStatus | 'rejected'): StoreCallFacts {
  // Characters of the field/value list: bytes for ASCII, a close enough size for a span attribute.
  let bytes = 0;
  for (const value of save.set) bytes += value.length;
  return { result: status === 'gone' ? 'gone' : status === 'rejected' ? 'conflict' : 'ok', bytes, fieldsChanged: save.set.length / 2 + save.del.length };
}
