-- Compare-and-set of one session key: writes the new value only if the field still holds what the
-- caller last saw. Atomic in Redis, so it isolates concurrent requests even on a shared connection,
-- where WATCH would not.
-- KEYS: session. ARGV: field, expected-present '1'|'0', expected, write '1' (set) | '0' (delete),
-- new value, expire-at ms, now ms, last-seen ms ('': leave it).
-- Returns {'gone'}, {'moved'} (a renewed session's old key), {'changed', current} (current absent
-- when the field is) or {'written'}.
--- @include "fields"
--- @include "includes/checked-expiry"

local key = KEYS[1]
local at, invalid = checked_expiry(ARGV[6])
if not at then return invalid end
if redis.call('EXISTS', key) == 0 or redis.call('HEXISTS', key, FIELD.ended) == 1 then return {'gone'} end
if redis.call('HEXISTS', key, FIELD.successor) == 1 then return {'moved'} end
local current = redis.call('HGET', key, ARGV[1])
local same
if ARGV[2] == '1' then same = current == ARGV[3] else same = current == false end
if not same then return {'changed', current} end
-- A write that slides the expiry stamps the expiry field (and last-seen) in the same HSET.
local stamps = {}
if at > tonumber(ARGV[7]) then
  stamps = { FIELD.expiresAt, ms(at) }
  if ARGV[8] and ARGV[8] ~= '' then stamps[3] = FIELD.lastSeenAt; stamps[4] = ARGV[8] end
end
if ARGV[4] == '1' then redis.call('HSET', key, ARGV[1], ARGV[5], unpack(stamps))
else
  redis.call('HDEL', key, ARGV[1])
  if #stamps > 0 then redis.call('HSET', key, unpack(stamps)) end
end
if #stamps > 0 then redis.call('PEXPIREAT', key, ms(at)) end
return {'written'}
