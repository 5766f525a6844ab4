import { CHECKED_EXPIRY } from './scripts';
import { FIELD } from './session-fields';

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

/**
 * Claim a session's renewal. KEYS: the session. ARGV: the successor's sealed ID.
 * Returns {'gone'} (absent or a tombstone), or {'claimed' | 'taken', sealed successor (the winner's),
 * the session's fields but the successor…}: 'taken' when another renewal claimed it first, with no
 * field left once retired.
 */
export const RENEW_CLAIM = `
local key = KEYS[1]
local fields = redis.call('HGETALL', key)
if #fields == 0 then return {'gone'} end
local reply = {'claimed', ARGV[1]}
for i = 1, #fields, 2 do
  if fields[i] == '${FIELD.ended}' then return {'gone'} end
  if fields[i] == '${FIELD.successor}' then
    reply[1] = 'taken'
    reply[2] = fields[i + 1]
  else
    reply[#reply + 1] = fields[i]
    reply[#reply + 1] = fields[i + 1]
  end
end
if reply[1] == 'claimed' then redis.call('HSET', key, '${FIELD.successor}', ARGV[1]) end
return reply
`;

/**
 * Write a renewed session under its new key, unless that key exists. KEYS: the new key. ARGV:
 * expire-at ms, now ms, field/value pairs (never the expiry field nor the issue time: set here).
 * Returns 'planted', 'exists', 'ended' (a tombstone: the successor was logged out already) or
 * 'expired' (the session's time ran out: nothing written).
 */
export const RENEW_PLANT = `${CHECKED_EXPIRY}
local key = KEYS[1]
local at, invalid = checked_expiry(ARGV[1])
if not at then return invalid end
if redis.call('HEXISTS', key, '${FIELD.ended}') == 1 then return 'ended' end
if redis.call('EXISTS', key) == 1 then return 'exists' end
if at <= tonumber(ARGV[2]) then return 'expired' end
redis.call('HSET', key, '${FIELD.expiresAt}', ms(at), '${FIELD.issuedAt}', ARGV[2])
for i = 3, #ARGV, 1000 do redis.call('HSET', key, unpack(ARGV, i, math.min(i + 999, #ARGV))) end
redis.call('PEXPIREAT', key, ms(at))
return 'planted'
`;

/**
 * Turn a claimed key into a bare forward pointer that expires after the grace window (or sooner, with
 * the session it was). A pointer already retired keeps its expiry: following it never prolongs it.
 * KEYS: the old key. ARGV: the sealed successor it must hold, grace ms, now ms.
 * Returns 'retired', or 'gone' when the key was destroyed meanwhile (a logout, a revoke).
 */
export const RENEW_RETIRE = `
local key = KEYS[1]
local sealed = redis.call('HGET', key, '${FIELD.successor}')
if sealed ~= ARGV[1] then return 'gone' end
if redis.call('HLEN', key) == 1 then return 'retired' end
local at = tonumber(ARGV[3]) + tonumber(ARGV[2])
local left = redis.call('PEXPIRETIME', key)
if left > 0 and left < at then at = left end
redis.call('DEL', key)
redis.call('HSET', key, '${FIELD.successor}', sealed)
redis.call('PEXPIREAT', key, at)
return 'retired'
`;

/**
 * Delete a session, answering its successor when it was renewed, so a logout with the old ID during
 * the grace window ends the new one too. With a tombstone time, the key is left as a tombstone for
 * that long (see above), whether or not it existed: a successor is destroyed before its plant when
 * the logout used the old ID. KEYS: the session. ARGV: tombstone ms (0: none), now ms.
 * Returns {sessions deleted (0 for a tombstone already there), sealed successor or ''}.
 */
export const DESTROY_SESSION = `
local key = KEYS[1]
local found = redis.call('HMGET', key, '${FIELD.successor}', '${FIELD.ended}')
if found[2] then return {0, ''} end
local deleted = redis.call('DEL', key)
local keep = tonumber(ARGV[1])
if keep > 0 then
  local at = string.format('%.0f', tonumber(ARGV[2]) + keep)
  redis.call('HSET', key, '${FIELD.ended}', '1', '${FIELD.expiresAt}', at)
  redis.call('PEXPIREAT', key, at)
end
return {deleted, found[1] or ''}
`;
