-- Compare-and-set of one session key: writes the new value only if the field still holds what the
-- caller last saw. Atomic in Redis, so it isolates concurrent requests even on a shared connection,
-- where WATCH would not.
-- The expiry moves only when that gains at least `min gain` ms on the one Redis holds (the idle
-- slide's `touchAfter`; 0: whenever it differs), so an update inside `touchAfter` costs one read and
-- one write, and never moves back an expiry another request slid further.
-- KEYS: session. ARGV: field, expected-present '1'|'0', expected, write '1' (set) | '0' (delete),
-- new value, expire-at ms, now ms, last-seen ms ('': leave it), min gain ms.
-- Returns {'gone'}, {'moved'} (a renewed session's old key), {'changed', current} (current absent
-- when the field is) or {'written'}.
--- @include "fields"
--- @include "includes/checked-expiry"

local key = KEYS[1]
local at, invalid = checked_expiry(ARGV[6])
if not at then return invalid end
local min_gain = tonumber(ARGV[9])
if min_gain == nil or min_gain < 0 then return redis.error_reply('SESSION invalid min gain: ' .. tostring(ARGV[9])) end
-- One read for every check. A live session always holds its creation time; a tombstone (a session
-- destroyed while renewal is on, FIELD.ended) never does, so it is as absent.
local found = redis.call('HMGET', key, FIELD.createdAt, FIELD.successor, FIELD.expiresAt, ARGV[1])
if found[2] then return {'moved'} end
if not found[1] then return {'gone'} end
local current = found[4]
local same
if ARGV[2] == '1' then same = current == ARGV[3] else same = current == false end
if not same then return {'changed', current} end
-- A write that slides the expiry stamps the expiry field (and last-seen) in the same HSET.
local stamps = {}
local held = tonumber(found[3])
local gains = held == nil or (min_gain == 0 and at ~= held) or (min_gain > 0 and at - held >= min_gain)
if at > tonumber(ARGV[7]) and gains then
  stamps = { FIELD.expiresAt, ms(at) }
  if ARGV[8] and ARGV[8] ~= '' then stamps[3] = FIELD.lastSeenAt; stamps[4] = ARGV[8] end
end
if ARGV[4] == '1' then redis.call('HSET', key, ARGV[1], ARGV[5], unpack(stamps))
else
  redis.call('HDEL', key, ARGV[1])
  if #stamps > 0 then redis.call('HSET', key, unpack(stamps)) end
end
if #stamps > 0 then redis.call('PEXPIREAT', key, ms(at)) end
return {'written'}
