-- The expiry argument as an integer of ms within what PEXPIREAT and a cookie accept, else an error
-- reply BEFORE the script writes anything: Redis does not roll back a script that fails half-way, and
-- a key written without its PEXPIREAT would live for ever. Lua's tonumber reads 'nan' and 'inf' too,
-- hence the explicit checks.
--- @include "fields"

local function checked_expiry(text)
  local at = tonumber(text)
  if at == nil or at ~= at or at < 0 or at > MAX_EXPIRY_MS or at ~= math.floor(at) then
    return nil, redis.error_reply('SESSION invalid expiry: ' .. tostring(text))
  end
  return at
end

-- Lua prints numbers with 14 digits: a far expiry (15 digits) must be formatted in full.
local function ms(at) return string.format('%.0f', at) end
