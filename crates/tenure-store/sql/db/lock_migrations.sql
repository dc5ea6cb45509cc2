-- Takes the session-level advisory lock held while migrating, so processes starting
-- together do not run the migrations concurrently; waits for another holder.
-- $1: the migration lock's key (bigint)
SELECT pg_advisory_lock($1)
