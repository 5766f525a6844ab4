-- The body of a session save, shared by save-session.lua and save-and-index.lua, which pass their
-- own ARGV offset: the save's arguments start at ARGV[base + 1].
-- 'patch' writes only if the session still exists, so a request that was running while the session
-- was destroyed (logout, revoke) cannot bring it back; 'replace' writes it whole. An expiry already
-- past deletes the session instead.
-- A patch moves the expiry only when that gains at least `min gain` ms on the expiry Redis holds
-- (the idle slide's `touchAfter`; 0: set it exactly), so a change inside `touchAfter` costs Redis
-- one read and one write, as a change of one key should, and never moves an expiry another request
-- slid further back. Nor one another write moved since the caller read `expected expiry` (a slide,
-- or a shorter window app code gave the cookie): the caller's expiry comes from its own older copy
-- of the cookie. A min gain of 0 (a change of the cookie itself) sets it whatever Redis holds.
-- ARGV from base + 1: mode, expire-at ms, now ms, min gain ms, expected expiry ms ('': not known),
-- n, n field/value pairs (a long value as its head and pieces), fields to delete.
-- Returns 'written', 'gone' (patch on a missing session), 'expired' (deleted), 'moved' (a renewed
-- session's old key: nothing written) or an error reply (a bad argument: nothing written).
-- A value longer than PIECE_BYTES arrives as its head and pieces (field-pieces.ts); a patch also
-- drops the pieces the values it replaces or deletes had beyond their new count.
--- @include "fields"
--- @include "includes/checked-expiry"
--- @include "includes/call-in-chunks"
--- @include "includes/field-pieces"

local function save_session(key, base)
  local at, invalid = checked_expiry(ARGV[base + 2])
  if not at then return invalid end
  local min_gain = tonumber(ARGV[base + 4])
  if min_gain == nil or min_gain < 0 then return redis.error_reply('SESSION invalid min gain: ' .. tostring(ARGV[base + 4])) end
  local expected = ARGV[base + 5]
  local n = tonumber(ARGV[base + 6])
  if n == nil or n < 0 or base + 6 + 2 * n > #ARGV then return redis.error_reply('SESSION invalid field count') end
  local pairs_from, pairs_to = base + 7, base + 6 + 2 * n
  local patch = ARGV[base + 1] == 'patch'
  -- One read for every check. A live session always holds its creation time; a tombstone (a session
  -- destroyed while renewal is on, FIELD.ended) never does, so it is as absent. A patch reads the
  -- heads of the fields it replaces or deletes too: how many pieces each leaves behind.
  local probe = { FIELD.createdAt, FIELD.successor, FIELD.expiresAt }
  local heads = {}
  if patch then
    for i = pairs_from, pairs_to, 2 do
      if not is_piece_field(ARGV[i]) then
        heads[#heads + 1] = i
        probe[#probe + 1] = ARGV[i]
      end
    end
    for i = pairs_to + 1, #ARGV do probe[#probe + 1] = ARGV[i] end
  end
  local found = hmget_in_chunks(key, probe)
  -- A renewed session's old key takes no write: the writer goes to the successor (see session-forwarding.ts).
  if found[2] then return 'moved' end
  local stamp = true
  if patch then
    if not found[1] then return 'gone' end
    local held = tonumber(found[3])
    if held then
      if min_gain == 0 then stamp = held ~= at
      elseif expected ~= '' and held ~= tonumber(expected) then stamp = false
      else stamp = at - held >= min_gain end
    end
  elseif found[1] or found[3] then
    -- A replace over a session or a tombstone (each holds one of these; a new ID finds nothing, and
    -- saves the DEL) starts from an empty hash.
    redis.call('DEL', key)
  end
  if at <= tonumber(ARGV[base + 3]) then
    redis.call('DEL', key)
    return 'expired'
  end
  if stamp then
    -- The expiry field rides in the first HSET (the caller never sends it, so nothing overrides it).
    call_in_chunks('HSET', key, pairs_from, pairs_to, FIELD.expiresAt, ms(at))
  else
    call_in_chunks('HSET', key, pairs_from, pairs_to)
  end
  local drops = {}
  for i = pairs_to + 1, #ARGV do drops[#drops + 1] = ARGV[i] end
  if patch then
    -- The pieces held beyond each new value's count, and every piece of a deleted field.
    for h, i in ipairs(heads) do piece_fields(drops, ARGV[i], piece_count(ARGV[i + 1]), held_piece_count(key, found[3 + h])) end
    for i = pairs_to + 1, #ARGV do piece_fields(drops, ARGV[i], 1, held_piece_count(key, found[3 + #heads + i - pairs_to])) end
  end
  call_list_in_chunks('HDEL', key, drops)
  if stamp then redis.call('PEXPIREAT', key, ms(at)) end
  return 'written'
end
