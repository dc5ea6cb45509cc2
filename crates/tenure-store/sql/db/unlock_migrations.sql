-- Releases the migration advisory lock taken before migrating.
-- $1: the migration lock's key (bigint)
SELECT pg_advisory_unlock($1)
