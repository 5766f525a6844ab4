-- Delete a session, answering its successor when it was renewed, so a logout with the old ID during
-- the grace window ends the new one too. With a tombstone time, the key is left as a tombstone for
-- that long (see renewal-scripts.ts), whether or not it existed: a successor is destroyed before
-- its plant when the logout used the old ID.
-- KEYS: the session. ARGV: tombstone ms (0: none), now ms.
-- Returns {sessions deleted (0 for a tombstone already there), sealed successor or ''}.
--- @include "fields"

local key = KEYS[1]
local found = redis.call('HMGET', key, FIELD.successor, FIELD.ended)
if found[2] then return {0, ''} end
local deleted = redis.call('DEL', key)
local keep = tonumber(ARGV[1])
if keep > 0 then
  local at = string.format('%.0f', tonumber(ARGV[2]) + keep)
  redis.call('HSET', key, FIELD.ended, '1', FIELD.expiresAt, at)
  redis.call('PEXPIREAT', key, at)
end
return {deleted, found[1] or ''}
