import { defineScript, oneOf, statusList, strings, unexpectedReply } from './lua-script';
import { storedPairs } from './field-pieces';
import { asFieldRecord, type StoredFields } from './session-fields';

/*
 * The scripts of a periodic ID renewal (see `SessionForwarding`). Each touches one key, so the same
 * three steps run on standalone, Sentinel and Cluster, where the old and the new key live in
 * different slots:
 *
 *   claim   old key: the successor's sealed ID written into it, once; from then on the old key takes
 *           no write (SAVE_SESSION and COMPARE_AND_SET answer 'moved', TOUCH_SESSION leaves it), so
 *           its fields are final
 *   plant   new key: those final fields copied (re-sealed for the new key by the caller), unless
 *           the key exists: planted already, and perhaps written since, or a tombstone (destroyed)
 *   retire  old key: every field but the successor dropped, expiring after the grace window
 *
 * Whoever finds a claimed key not yet retired (a replica that lost the claim, a reader, a writer)
 * finishes the plant and the retire itself: each step is idempotent, and the copy holds the same
 * values whoever makes it.
 *
 * While `renewal` is on, a destroyed session leaves a tombstone (`FIELD.ended`) for the grace window
 * instead of nothing: every read and write treats it as absent, and the plant's "unless the key
 * exists" keeps it, so a renewal still under way cannot bring a logged-out session back.
 */

/** A renewal's claim: the session's fields at that moment (none once retired) and the successor every claimant agrees on. */
export type RenewClaimReply = { status: 'gone' } | { status: 'claimed' | 'taken'; sealedSuccessor: string; fields: StoredFields };
/** A plant's outcome: written, or why not (the key exists, is a tombstone, or the session's time ran out). */
export type PlantStatus = 'planted' | 'exists' | 'ended' | 'expired';

/** A renewed session's fields for its new key (see `SessionGateway.plantSuccessor`). */
export interface PlantArgs {
  redisKey: string;
  expiresAt: number;
  now: number;
  /** Flat [field, value, …] list, never the expiry field nor the issue time (the script sets them). */
  fields: string[];
  /** See `SaveSessionArgs.pieceBytes`. */
  pieceBytes?: number;
}

/** Claims a session's renewal for a successor, or answers the one claimed first. */
export const RENEW_CLAIM = defineScript({
  name: 'sessionRenewClaim',
  file: 'renew-claim',
  keys: 1,
  args: ({ redisKey, sealedSuccessor }: { redisKey: string; sealedSuccessor: string }) => [redisKey, sealedSuccessor],
  parse: (reply, name): RenewClaimReply => {
    const list = statusList(name, reply, ['gone', 'claimed', 'taken']);
    if (list[0] === 'gone') return { status: 'gone' };
    const [sealedSuccessor, ...flat] = strings(name, list, 1, 'a status, the sealed successor and the fields');
    if (sealedSuccessor === undefined || flat.length % 2 !== 0) throw unexpectedReply(name, reply, 'a status, the sealed successor and field/value pairs');
    return { status: list[0], sealedSuccessor, fields: asFieldRecord(flat) ?? {} };
  },
});

/** Writes a renewed session under its new key unless that key exists. */
export const RENEW_PLANT = defineScript({
  name: 'sessionRenewPlant',
  file: 'renew-plant',
  keys: 1,
  args: ({ redisKey, expiresAt, now, fields, pieceBytes }: PlantArgs) => {
    // Each value as Redis stores it: a long one as its head and pieces (field-pieces.ts).
    const stored: string[] = [];
    for (let i = 0; i < fields.length; i += 2) stored.push(...storedPairs(fields[i], fields[i + 1], pieceBytes));
    return [redisKey, expiresAt, now, ...stored];
  },
  parse: (reply, name): PlantStatus => oneOf(name, reply, ['planted', 'exists', 'ended', 'expired']),
});

/** Turns a claimed key into a pointer to its successor, expiring after the grace window. */
export const RENEW_RETIRE = defineScript({
  name: 'sessionRenewRetire',
  file: 'renew-retire',
  keys: 1,
  args: ({ redisKey, sealedSuccessor, grace, now }: { redisKey: string; sealedSuccessor: string; grace: number; now: number }) => [
    redisKey,
    sealedSuccessor,
    grace,
    now,
  ],
  parse: (reply, name): 'retired' | 'gone' => oneOf(name, reply, ['retired', 'gone']),
});

/** Deletes a session (leaving a tombstone while renewal is on), answering its successor when it was renewed. */
export const DESTROY_SESSION = defineScript({
  name: 'sessionDestroy',
  file: 'destroy-session',
  keys: 1,
  args: ({ redisKey, tombstoneMs, now, moving }: { redisKey: string; tombstoneMs: number; now: number; moving?: boolean }) => [
    redisKey,
    tombstoneMs,
    now,
    moving ? '1' : '',
  ],
  parse: (reply, name): { deleted: number; sealedSuccessor: string | undefined } => {
    if (!Array.isArray(reply) || reply.length !== 2 || typeof reply[0] !== 'number' || typeof reply[1] !== 'string') {
      throw unexpectedReply(name, reply, 'the count deleted and the sealed successor or an empty string');
    }
    return { deleted: reply[0], sealedSuccessor: reply[1] ? reply[1] : undefined };
  },
});
