-- Write a renewed session under its new key, unless that key exists. KEYS: the new key. ARGV:
-- expire-at ms, now ms, field/value pairs (never the expiry field nor the issue time: set here).
-- Returns 'planted', 'exists', 'ended' (a tombstone: the successor was logged out already) or
-- 'expired' (the session's time ran out: nothing written).
--- @include "fields"
--- @include "includes/checked-expiry"
--- @include "includes/call-in-chunks"

local key = KEYS[1]
local at, invalid = checked_expiry(ARGV[1])
if not at then return invalid end
if redis.call('HEXISTS', key, FIELD.ended) == 1 then return 'ended' end
if redis.call('EXISTS', key) == 1 then return 'exists' end
if at <= tonumber(ARGV[2]) then return 'expired' end
redis.call('HSET', key, FIELD.expiresAt, ms(at), FIELD.issuedAt, ARGV[2])
call_in_chunks('HSET', key, 3, #ARGV)
redis.call('PEXPIREAT', key, ms(at))
return 'planted'
