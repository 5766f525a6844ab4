-- Compare-and-set of one session key: writes the new value only if the field still holds what the
-- caller last saw. Atomic in Redis, so it isolates concurrent requests even on a shared connection,
-- where WATCH would not.
-- The expiry moves only when that gains at least `min gain` ms on the one Redis holds (the idle
-- slide's `touchAfter`; 0: whenever it differs), so an update inside `touchAfter` costs one read and
-- one write, and never moves back an expiry another request slid further; nor, with a min gain, one
-- another write moved since the caller read `expected expiry` (a shorter window app code set).
-- A long value comes as its head and pieces (field-pieces.ts): the expected value's are read and
-- compared in the one HMGET; of the new value's, only those that differ from the expected value's are
-- sent and written, and the pieces the held value had beyond the new one's count are deleted.
-- KEYS: session. ARGV: field, expected-present '1'|'0', write '1' (set) | '0' (delete), expire-at ms,
-- now ms, last-seen ms ('': leave it), min gain ms, expected expiry ms ('': not known), e, the
-- expected value's e field/value pairs (the field's own first), the new value's piece count, its
-- field/value pairs that differ.
-- Returns {'gone'}, {'moved'} (a renewed session's old key), {'changed', head, pieces…} (what the
-- field holds now, as stored; nothing when it is absent) or {'written'}.
--- @include "fields"
--- @include "includes/checked-expiry"
--- @include "includes/call-in-chunks"
--- @include "includes/field-pieces"

local key, field = KEYS[1], ARGV[1]
local at, invalid = checked_expiry(ARGV[4])
if not at then return invalid end
local min_gain = tonumber(ARGV[7])
if min_gain == nil or min_gain < 0 then return redis.error_reply('SESSION invalid min gain: ' .. tostring(ARGV[7])) end
local expected_expiry = ARGV[8]
local e = tonumber(ARGV[9])
if e == nil or e < 0 or 10 + 2 * e > #ARGV then return redis.error_reply('SESSION invalid piece count') end
local expected_at = 10
local next_count, next_from = tonumber(ARGV[10 + 2 * e]), 11 + 2 * e
if next_count == nil then return redis.error_reply('SESSION invalid piece count') end
-- One read for every check. A live session always holds its creation time; a tombstone (a session
-- destroyed while renewal is on, FIELD.ended) never does, so it is as absent. found[4] is the field's
-- head, found[5] onwards what Redis holds where the expected value's pieces would be.
local probe = { FIELD.createdAt, FIELD.successor, FIELD.expiresAt, field }
for i = 1, e - 1 do probe[4 + i] = ARGV[expected_at + 2 * i] end
local found = hmget_in_chunks(key, probe)
if found[2] then return {'moved'} end
if not found[1] then return {'gone'} end
local head = found[4]
local held_count = held_piece_count(key, head)
local same = ARGV[2] == '1'
if not same then same = not head
else
  for i = 0, e - 1 do
    if found[4 + i] ~= ARGV[expected_at + 2 * i + 1] then
      same = false
      break
    end
  end
end
-- The held value's pieces 1 to held_count - 1 (read again when the expected value has another count).
local held_pieces = {}
if head and held_count == e then
  for i = 1, e - 1 do held_pieces[i] = found[4 + i] end
elseif head and held_count > 1 and not same then
  held_pieces = hmget_in_chunks(key, piece_fields({}, field, 1, held_count))
end
-- Held in another form than the expected value's (an older version wrote it whole, or a replica with
-- another hashMaxListpackValue cut it): the same value if it is, whole.
local reformed = false
if not same and head and ARGV[2] == '1' then
  local expected_pieces = {}
  for i = 1, e - 1 do expected_pieces[i] = ARGV[expected_at + 2 * i + 1] end
  same = whole_value(head, held_pieces) == whole_value(ARGV[expected_at + 1], expected_pieces)
  reformed = same
end
if not same then
  if not head then return {'changed'} end
  return {'changed', head, unpack(held_pieces)}
end
-- A write that slides the expiry stamps the expiry field (and last-seen) in the same HSET.
local stamps = {}
local held = tonumber(found[3])
local moved = expected_expiry ~= '' and held ~= nil and held ~= tonumber(expected_expiry)
local gains = held == nil or (min_gain == 0 and at ~= held) or (min_gain > 0 and not moved and at - held >= min_gain)
if at > tonumber(ARGV[5]) and gains then
  stamps = { FIELD.expiresAt, ms(at) }
  if ARGV[6] ~= '' then stamps[3] = FIELD.lastSeenAt; stamps[4] = ARGV[6] end
end
-- The held value's fields from piece `from` on (0: the field itself): the expected value's names when
-- it is held in the same form, else named here.
local function held_fields(from)
  local names = {}
  if held_count == e then
    for i = from, held_count - 1 do names[#names + 1] = ARGV[expected_at + 2 * i] end
    return names
  end
  if from == 0 and head then names[1] = field end
  return piece_fields(names, field, math.max(from, 1), held_count)
end
if ARGV[3] == '1' then
  if reformed then
    -- The caller left out the new pieces equal to the expected value's, which Redis holds in another
    -- form: they are written from the expected ones.
    local sent, puts = {}, {}
    for i = next_from, #ARGV, 2 do sent[ARGV[i]] = true end
    for i = 0, next_count - 1 do
      local name = i == 0 and field or ':' .. i .. ':' .. field
      if not sent[name] then puts[#puts + 1] = name; puts[#puts + 1] = ARGV[expected_at + 2 * i + 1] end
    end
    for i = 1, #stamps do puts[#puts + 1] = stamps[i] end
    call_list_in_chunks('HSET', key, puts)
    call_in_chunks('HSET', key, next_from, #ARGV)
  else
    call_in_chunks('HSET', key, next_from, #ARGV, unpack(stamps))
  end
  -- The pieces the held value had beyond the new one's.
  call_list_in_chunks('HDEL', key, held_fields(next_count))
else
  call_list_in_chunks('HDEL', key, held_fields(0))
  if #stamps > 0 then redis.call('HSET', key, unpack(stamps)) end
end
if #stamps > 0 then redis.call('PEXPIREAT', key, ms(at)) end
return {'written'}
