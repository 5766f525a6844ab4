-- Add a session to its user's index, taking `leaving` (the same session's previous digest, after an
-- ID change) out first, and enforce the per-user limit in the same atomic step, so simultaneous
-- logins never end above it.
-- KEYS: index. ARGV: digest, created ms, oldest live creation time ms ('-inf': no absolute timeout),
-- limit (0: none), 'evict-oldest'|'reject', index expire-at ms (never moved earlier), leaving digest
-- ('' for none), 'move' when the join is only a move (a renewal: `leaving` must still be a member).
-- Returns {'rejected'}; {'gone'} for a move whose `leaving` is no member (revoked or evicted
-- meanwhile, or moved already: nothing is added); or {'added', digests evicted to make room…}
-- (oldest first).
--- @include "includes/index-functions"

local key = KEYS[1]
local limit = tonumber(ARGV[4])
local leaving = ARGV[7] or ''
if index_full(key, ARGV[1], ARGV[3], limit, ARGV[5], leaving) then return {'rejected'} end
local moved = leaving ~= '' and redis.call('ZREM', key, leaving) == 1
if ARGV[8] == 'move' and not moved then return {'gone'} end
return index_join(key, ARGV[1], ARGV[2], limit, ARGV[6], {'added'}, moved)
