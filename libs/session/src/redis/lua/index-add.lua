-- Add a session to its user's index, taking `leaving` (the same session's previous digest, after an
-- ID change) out first, and enforce the per-user limit in the same atomic step, so simultaneous
-- logins never end above it.
-- KEYS: index. ARGV: digest, created ms, oldest live creation time ms ('-inf': no absolute timeout),
-- limit (0: none), 'evict-oldest'|'reject', index expire-at ms (never moved earlier), leaving digest
-- ('' for none). Returns {'rejected'}, or {'added', digests evicted to make room…} (oldest first).
--- @include "includes/index-functions"

local key = KEYS[1]
local limit = tonumber(ARGV[4])
if index_full(key, ARGV[1], ARGV[3], limit, ARGV[5], ARGV[7] or '') then return {'rejected'} end
if ARGV[7] and ARGV[7] ~= '' then redis.call('ZREM', key, ARGV[7]) end
return index_join(key, ARGV[1], ARGV[2], limit, ARGV[6], {'added'})
