-- PUBLISH, routed by a key that is never read or written. On Redis Cluster a command without a key goes
-- to any node, and a message published on one node reaches the others over the cluster bus, so two
-- messages sent to two nodes can arrive in either order. Sent as a script with a key, every message of
-- one publisher leaves from the node that owns the key's slot, in the order it was sent.
-- KEYS: the routing key. ARGV: channel, message. Returns PUBLISH's reply (the receivers on that node).
return redis.call('PUBLISH', ARGV[1], ARGV[2])
