-- Move a user index's expiry to a later time, never earlier; a missing index stays missing.
-- KEYS: index. ARGV: expire-at ms. Returns 1 when moved, else 0.

local current = redis.call('PEXPIRETIME', KEYS[1])
if current == -2 or current >= tonumber(ARGV[1]) then return 0 end
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1
