-- Serialises brake decisions: partitions commit side by side, and counting (or
-- releasing) under one lock held to commit makes each see the revocations the others
-- held or released before it.
-- $1: the brake's advisory lock key (BRAKE_LOCK in brake.rs)
SELECT pg_advisory_xact_lock($1);
