-- Turn a claimed key into a bare forward pointer that expires after the grace window (or sooner,
-- with the session it was). A pointer already retired keeps its expiry: following it never
-- prolongs it.
-- KEYS: the old key. ARGV: the sealed successor it must hold, grace ms, now ms.
-- Returns 'retired', or 'gone' when the key was destroyed meanwhile (a logout, a revoke).
--- @include "fields"

local key = KEYS[1]
local sealed = redis.call('HGET', key, FIELD.successor)
if sealed ~= ARGV[1] then return 'gone' end
if redis.call('HLEN', key) == 1 then return 'retired' end
local at = tonumber(ARGV[3]) + tonumber(ARGV[2])
local left = redis.call('PEXPIRETIME', key)
if left > 0 and left < at then at = left end
redis.call('DEL', key)
redis.call('HSET', key, FIELD.successor, sealed)
redis.call('PEXPIREAT', key, at)
return 'retired'
