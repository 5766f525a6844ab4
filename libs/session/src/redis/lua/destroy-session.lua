-- Delete a session, answering its successor when it was renewed, so a logout with the old ID during
-- the grace window ends the new one too. With a tombstone time, the key is left as a tombstone for
-- that long (see renewal-scripts.ts), whether or not it existed: a successor is destroyed before
-- its plant when the logout used the old ID.
-- A regenerate of a logged-in session marks its tombstone `moving` (see session-fields.ts).
-- KEYS: the session. ARGV: tombstone ms (0: none), now ms, '1' for a moving mark.
-- Returns {sessions deleted (0 for a tombstone already there), sealed successor or ''}.
--- @include "fields"

local key = KEYS[1]
local found = redis.call('HMGET', key, FIELD.successor, FIELD.ended, FIELD.moving)
-- A tombstone ended a session already; one marked moving stands for a live session (its new ID not
-- saved yet), which ends here: counted, and left a plain tombstone.
if found[2] and not found[3] then return {0, ''} end
local deleted = redis.call('DEL', key)
local keep = tonumber(ARGV[1])
if keep > 0 then
  local at = string.format('%.0f', tonumber(ARGV[2]) + keep)
  redis.call('HSET', key, FIELD.ended, '1', FIELD.expiresAt, at)
  if ARGV[3] == '1' then redis.call('HSET', key, FIELD.moving, '1') end
  redis.call('PEXPIREAT', key, at)
end
return {deleted, found[1] or ''}
