-- Slide a session's idle timeout: move its expiry, never past its absolute deadline, without
-- rewriting it, and stamp its last-seen time. Never recreates a deleted session. With an expected
-- expiry, it does nothing when another write moved the expiry since the caller read it: that write
-- slid the session already, so parallel requests of one session slide it once.
-- KEYS: session. ARGV: wanted expire-at ms, now ms, absolute timeout ms (0: none), expected expiry
-- field ('*': any, '': absent), last-seen ms ('': leave it).
-- Returns 'touched', 'moved' (left alone; also a renewed session's old key), 'gone' or 'expired' (and deleted).
--- @include "fields"
--- @include "includes/checked-expiry"

local key = KEYS[1]
local at, invalid = checked_expiry(ARGV[1])
if not at then return invalid end
local found = redis.call('HMGET', key, FIELD.createdAt, FIELD.expiresAt, FIELD.successor)
local created = tonumber(found[1])
if not created then return 'gone' end
-- A renewed session's old key: its fields are final and it expires with its grace, untouched.
if found[3] then return 'moved' end
if ARGV[4] ~= '*' and (tonumber(found[2]) or -1) ~= (tonumber(ARGV[4]) or -1) then return 'moved' end
local absolute = tonumber(ARGV[3])
if absolute > 0 and created + absolute < at then at = created + absolute end
if at <= tonumber(ARGV[2]) then
  redis.call('DEL', key)
  return 'expired'
end
redis.call('PEXPIREAT', key, ms(at))
if ARGV[5] ~= '' then redis.call('HSET', key, FIELD.expiresAt, ms(at), FIELD.lastSeenAt, ARGV[5])
else redis.call('HSET', key, FIELD.expiresAt, ms(at)) end
return 'touched'
