-- The body of a session save, shared by save-session.lua and save-and-index.lua, which pass their
-- own ARGV offset: the save's arguments start at ARGV[base + 1].
-- 'patch' writes only if the session still exists, so a request that was running while the session
-- was destroyed (logout, revoke) cannot bring it back; 'replace' writes it whole. An expiry already
-- past deletes the session instead.
-- ARGV from base + 1: mode, expire-at ms, now ms, n, n field/value pairs, fields to delete.
-- Returns 'written', 'gone' (patch on a missing session), 'expired' (deleted), 'moved' (a renewed
-- session's old key: nothing written) or an error reply (a bad argument: nothing written).
--- @include "fields"
--- @include "includes/checked-expiry"
--- @include "includes/call-in-chunks"

local function save_session(key, base)
  local at, invalid = checked_expiry(ARGV[base + 2])
  if not at then return invalid end
  local n = tonumber(ARGV[base + 4])
  if n == nil or n < 0 or base + 4 + 2 * n > #ARGV then return redis.error_reply('SESSION invalid field count') end
  local pairs_from, pairs_to = base + 5, base + 4 + 2 * n
  -- A renewed session's old key takes no write: the writer goes to the successor (see session-forwarding.ts).
  if redis.call('HEXISTS', key, FIELD.successor) == 1 then return 'moved' end
  if ARGV[base + 1] == 'patch' then
    -- A tombstone (a session destroyed while renewal is on) is as absent.
    if redis.call('EXISTS', key) == 0 or redis.call('HEXISTS', key, FIELD.ended) == 1 then return 'gone' end
  else
    redis.call('DEL', key)
  end
  if at <= tonumber(ARGV[base + 3]) then
    redis.call('DEL', key)
    return 'expired'
  end
  -- The expiry field rides in the first HSET (the caller never sends it, so nothing overrides it).
  call_in_chunks('HSET', key, pairs_from, pairs_to, FIELD.expiresAt, ms(at))
  call_in_chunks('HDEL', key, pairs_to + 1, #ARGV)
  redis.call('PEXPIREAT', key, ms(at))
  return 'written'
end
