-- A value longer than PIECE_BYTES is stored in pieces, so the session's hash stays a listpack at
-- Redis's defaults (the layout, and why: field-pieces.ts). The app sends the pieces ready to store:
-- a head under the field's own name (PIECE_MARK, the piece count, ':', the first piece) and piece i
-- as ':<i>:<field>'. These find how many pieces a head stands for and name the ones a value no
-- longer needs, for the scripts to delete.
--- @include "fields"

local PIECE_MARK_BYTE = string.byte(PIECE_MARK)

-- How many pieces a head says its value has: 0 for an absent field, 1 for a value stored whole.
local function piece_count(head)
  if not head then return 0 end
  if string.byte(head, 1) ~= PIECE_MARK_BYTE then return 1 end
  return tonumber(string.match(head, '^.(%d+):')) or 1
end

-- How many pieces a head Redis holds stands for, as piece_count, but never more than the hash has
-- fields: a head whose count is corrupt (3000000) must not make a script name millions of pieces to
-- delete, blocking Redis. Below 128 (a listpack's most entries) the count is taken as it is: naming
-- a few fields too many costs nothing, and HLEN is left out of every ordinary write.
local function held_piece_count(key, head)
  local count = piece_count(head)
  if count > 128 then count = math.min(count, redis.call('HLEN', key)) end
  return count
end

-- Whether a hash field is a piece of another field's value (':' then a digit).
local function is_piece_field(field)
  local first, second = string.byte(field, 1, 2)
  return first == 58 and second ~= nil and second >= 48 and second <= 57
end

-- Appends to `out` the names of pieces `from` to `count` - 1 of `field`; returns `out`.
local function piece_fields(out, field, from, count)
  for i = from, count - 1 do out[#out + 1] = ':' .. i .. ':' .. field end
  return out
end

-- The value a head stands for, given its pieces 1 to count - 1 in order; a value stored whole is
-- itself, and a head whose pieces are not all there stays as it is (every reader takes it as corrupt).
local function whole_value(head, pieces)
  if string.byte(head, 1) ~= PIECE_MARK_BYTE then return head end
  local header = string.match(head, '^.%d+:')
  if not header then return head end
  local parts = { string.sub(head, #header + 1) }
  for i = 1, tonumber(string.sub(header, 2, -2)) - 1 do
    if not pieces[i] then return head end
    parts[i + 1] = pieces[i]
  end
  return table.concat(parts)
end

