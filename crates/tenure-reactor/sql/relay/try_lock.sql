-- Makes the relay single-flight across reactor instances: two relays publishing
-- neighbouring rows side by side could reorder one identity's commands. Returns
-- whether this transaction took the lock (it is held to commit).
-- $1: the relay's advisory lock key (RELAY_LOCK in relay.rs)
SELECT pg_try_advisory_xact_lock($1);
