import { messages } from '../errors/session.messages';
import { FIELD, isSealedField, renewalRecordOf } from '../redis/session-fields';
import type { StoredFields } from '../redis/session-gateway';
import { digestOf } from '../redis/session-id';
import { UnopenableSessionError, decodeSession, openField } from './session-codec';
import type { SessionContext } from './session-context';
import type { UserIndexEntry } from './session-state';
import type { UserIndexKeeper } from './store-ports';
import { openSuccessor } from './successor-seal';

/** Grace a pointer gets when this replica has no `renewal` of its own (a rolling deploy turning it on). */
const FALLBACK_GRACE_MS = 60_000; // 1 min

/**
 * How long the old key of a logged-in session a `regenerate` moved stays marked `moving`: the time its
 * request has to save the new ID (see `FIELD.moving`).
 */
const MOVING_MARK_MS = 300_000; // 5 min

/** Forward pointers followed at most, one after another (a session renewed twice within a grace window). */
export const MAX_HOPS = 3;

/**
 * The old key of a renewed session points to its new one for the grace window (see
 * `renewal-scripts.ts` for the three steps of a renewal). Every reader and writer that meets such a
 * key comes here, finishes a renewal left half-way, and goes on under the successor, so all of them,
 * on any replica, end up on the one successor the claim decided. Part of the stored format: a
 * replica follows renewed keys whether or not its own `renewal` option is on (a rolling deploy).
 */
export class SessionForwarding {
  constructor(
    private readonly sessions: SessionContext,
    private readonly indexKeeper: UserIndexKeeper | undefined,
  ) {}

  /**
   * The successor of the session a read of `oldId` found renewed (`fields`, its old key's hash), the
   * renewal finished first if it was left half-way; undefined when it is gone. The reader reads it.
   */
  successorFrom(oldId: string, fields: StoredFields): Promise<string | undefined> {
    return this.finish(oldId, fields[FIELD.successor], withoutSuccessor(fields));
  }

  /**
   * The successor of a renewed session's old ID (a write to it answered 'moved'), the renewal
   * finished first if it was left half-way; undefined when the old key is gone or not renewed.
   */
  async successorOf(oldId: string): Promise<string | undefined> {
    const fields = await this.sessions.gateway.readSession(this.sessions.redisKeyOf(oldId));
    if (!fields || fields === 'wrongType' || renewalRecordOf(fields) !== 'renewed') return undefined;
    return this.finish(oldId, fields[FIELD.successor], withoutSuccessor(fields));
  }

  /**
   * Destroys the session under `sessionId` and, when it was renewed, its successor (a logout with the
   * old ID during the grace window ends both). With `renewal` on, each key is left a tombstone for
   * the grace; `moving` (a regenerate of a logged-in session) leaves one marked so in any case (see
   * `FIELD.moving`). Answers how many sessions the last key destroyed held, and its ID (`sessionId`,
   * or the successor a renewal moved the session to meanwhile).
   */
  async destroy(sessionId: string, moving = false, hops = 0): Promise<{ deleted: number; lastId: string }> {
    const grace = this.sessions.settings.renewal?.grace ?? 0;
    const tombstoneMs = moving ? Math.max(grace, MOVING_MARK_MS) : grace;
    const { deleted, sealedSuccessor } = await this.sessions.gateway.destroySession(this.sessions.redisKeyOf(sessionId), tombstoneMs, moving);
    const successor = sealedSuccessor === undefined ? undefined : openSuccessor(sealedSuccessor, sessionId);
    if (successor !== undefined && hops < MAX_HOPS) return this.destroy(successor, moving, hops + 1);
    return { deleted, lastId: sessionId };
  }

  /**
   * Opens the successor's ID and, when the old key still holds the session (claimed, not retired),
   * plants it under the new key, moves its user index entry and retires the old key. A key destroyed
   * meanwhile (a logout or revoke racing the renewal) takes the planted copy with it; a successor
   * destroyed already (its tombstone) is not planted again.
   */
  async finish(oldId: string, sealed: string, fields: StoredFields): Promise<string | undefined> {
    const successor = openSuccessor(sealed, oldId);
    if (successor === undefined) {
      this.sessions.logger.warn(messages.corruptValue(digestOf(oldId), `its "${FIELD.successor}" field does not open`));
      return undefined;
    }
    if (Object.keys(fields).length === 0) return successor; // retired: the successor holds the session (or is gone)
    const { gateway } = this.sessions;
    const now = Date.now();
    const oldKey = this.sessions.redisKeyOf(oldId);
    const newKey = this.sessions.redisKeyOf(successor);
    const copy = this.copyFor(oldKey, newKey, fields);
    const expiresAt = Number(fields[FIELD.expiresAt]) || now + this.sessions.settings.idleTimeout; // no expiry field: written by an older version
    const planted = await gateway.plantSuccessor({ redisKey: newKey, expiresAt, now, fields: copy });
    if (planted === 'expired') return undefined;
    if (planted === 'ended') {
      // Logged out with the new ID before this request planted: the old key goes too.
      await this.destroy(oldId);
      return undefined;
    }
    await this.indexKeeper?.follow(this.indexEntryOf(oldKey, fields, oldId, expiresAt), digestOf(successor));
    const grace = this.sessions.settings.renewal?.grace ?? FALLBACK_GRACE_MS;
    if ((await gateway.retireRenewed(oldKey, sealed, grace)) === 'gone') {
      await this.destroy(successor);
      return undefined;
    }
    return successor;
  }

  /**
   * The old key's fields as the new key is to hold them: under `encryption` each sealed value is
   * opened with the old key and sealed again with the new one (the Redis key is bound into every
   * seal, so a verbatim copy would not open). Never the expiry field nor the issue time: the plant
   * sets both. A value that does not open (logged once) is copied as it is: it reads as absent under
   * the new key as it did under the old, and the rest of the session goes on.
   */
  private copyFor(oldKey: string, newKey: string, fields: StoredFields): string[] {
    const { sealing } = this.sessions;
    const oldSealing = sealing.sealingFor(oldKey);
    const copy: string[] = [];
    for (const field of Object.keys(fields)) {
      if (field === FIELD.expiresAt || field === FIELD.issuedAt) continue;
      let value = fields[field];
      if (oldSealing && isSealedField(field)) {
        try {
          value = sealing.sealValue(newKey, field, openField(oldSealing, field, value))!;
        } catch (error) {
          if (!(error instanceof UnopenableSessionError)) throw error;
          this.sessions.ignoreUnopenableKey(oldKey, field, error.message);
        }
      }
      copy.push(field, value);
    }
    return copy;
  }

  /** The user index entry of a session as its old key's fields hold it, with its creation time and expiry; undefined when it has no user. */
  private indexEntryOf(
    oldKey: string,
    fields: StoredFields,
    oldId: string,
    expiresAt: number,
  ): (UserIndexEntry & { createdAt: number; expiresAt: number }) | undefined {
    try {
      // Read as a request reads it: a value that is corrupt or does not open is absent, the rest serves.
      const { data, state } = decodeSession(fields, this.sessions.cookieTemplateJson, Date.now(), this.sessions.sealing.sealingFor(oldKey), this.sessions);
      const entry = this.indexKeeper?.entryOf(data, digestOf(oldId));
      return entry && { ...entry, createdAt: state.createdAt, expiresAt };
    } catch {
      return undefined; // corrupt or unopenable: the read that follows logs it
    }
  }
}

/** A hash's fields without the successor. */
function withoutSuccessor(fields: StoredFields): StoredFields {
  const rest: StoredFields = { ...fields };
  delete rest[FIELD.successor];
  return rest;
}
