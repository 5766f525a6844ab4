-- Claim a session's renewal (the steps: renewal-scripts.ts). KEYS: the session. ARGV: the
-- successor's sealed ID.
-- Returns {'gone'} (absent or a tombstone), or {'claimed' | 'taken', sealed successor (the winner's),
-- the session's fields but the successor…}: 'taken' when another renewal claimed it first, with no
-- field left once retired.
--- @include "fields"

local key = KEYS[1]
local fields = redis.call('HGETALL', key)
if #fields == 0 then return {'gone'} end
local reply = {'claimed', ARGV[1]}
for i = 1, #fields, 2 do
  if fields[i] == FIELD.ended then return {'gone'} end
  if fields[i] == FIELD.successor then
    reply[1] = 'taken'
    reply[2] = fields[i + 1]
  else
    reply[#reply + 1] = fields[i]
    reply[#reply + 1] = fields[i + 1]
  end
end
if reply[1] == 'claimed' then redis.call('HSET', key, FIELD.successor, ARGV[1]) end
return reply
