import { CHECKED_EXPIRY } from './scripts';
import { FIELD } from './session-fields';

/*
 * The scripts of a periodic ID renewal (see `SessionForwarding`). Each touches one key, so the same
 * three steps run on standalone, Sentinel and Cluster, where the old and the new key live in
 * different slots:
 *
 *   claim   old key: the successor's sealed ID written into it, once; from then on the old key takes
 *           no write (SAVE_SESSION and COMPARE_AND_SET answer 'moved'), so its fields are final
 *   plant   new key: those final fields copied, unless already there (a second planter is a no-op)
 *   retire  old key: every field but the successor dropped, expiring after the grace window
 *
 * Whoever finds a claimed key not yet retired (a replica that lost the claim, a reader, a writer)
 * finishes the plant and the retire itself: each step is idempotent, and the copy is the same
 * whoever makes it.
 */

/**
 * Claim a session's renewal. KEYS: the session. ARGV: the successor's sealed ID.
 * Returns {'gone'}, or {'claimed' | 'taken', sealed successor (the winner's), expire time ms, the
 * session's fields…}: 'taken' when another renewal claimed it first, with no field left once retired.
 */
export const RENEW_CLAIM = `
local key = KEYS[1]
local fields = redis.call('HGETALL', key)
if #fields == 0 then return {'gone'} end
local reply = {'claimed', ARGV[1], redis.call('PEXPIRETIME', key)}
for i = 1, #fields, 2 do
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
 * Write a renewed session under its new key, unless that key exists (planted already, and perhaps
 * written since). KEYS: the new key. ARGV: expire-at ms, now ms, field/value pairs.
 * Returns 'planted', 'exists' or 'expired' (the session's time ran out: nothing written).
 */
export const RENEW_PLANT = `${CHECKED_EXPIRY}
local key = KEYS[1]
local at, invalid = checked_expiry(ARGV[1])
if not at then return invalid end
if redis.call('EXISTS', key) == 1 then return 'exists' end
if at <= tonumber(ARGV[2]) then return 'expired' end
for i = 3, #ARGV, 1000 do redis.call('HSET', key, unpack(ARGV, i, math.min(i + 999, #ARGV))) end
redis.call('HSET', key, '${FIELD.issuedAt}', ARGV[2])
redis.call('PEXPIREAT', key, ms(at))
return 'planted'
`;

/**
 * Turn a claimed key into a bare forward pointer that expires after the grace window (or sooner, with
 * the session it was). A pointer already retired keeps its expiry: following it never prolongs it.
 * KEYS: the old key. ARGV: the sealed successor it must hold, grace ms.
 * Returns 'retired', or 'gone' when the key was deleted meanwhile (a logout, a revoke).
 */
export const RENEW_RETIRE = `
local key = KEYS[1]
local sealed = redis.call('HGET', key, '${FIELD.successor}')
if sealed ~= ARGV[1] then return 'gone' end
if redis.call('HLEN', key) == 1 then return 'retired' end
local grace = tonumber(ARGV[2])
local left = redis.call('PTTL', key)
if left > 0 and left < grace then grace = left end
redis.call('DEL', key)
redis.call('HSET', key, '${FIELD.successor}', sealed)
redis.call('PEXPIRE', key, grace)
return 'retired'
`;

/**
 * Delete a session, answering its successor when it was renewed, so a logout with the old ID during
 * the grace window ends the new one too. KEYS: the session. Returns {keys deleted, sealed successor or ''}.
 */
export const DESTROY_SESSION = `
local successor = redis.call('HGET', KEYS[1], '${FIELD.successor}')
return {redis.call('DEL', KEYS[1]), successor or ''}
`;
