-- Write a session (see includes/save-session.lua).
-- KEYS: session. ARGV: mode, expire-at ms, now ms, min gain ms, n, n field/value pairs, fields to delete.
-- Returns 'written', 'gone', 'expired' or 'moved'.
--- @include "includes/save-session"

return save_session(KEYS[1], 0)
