-- Serialises partitions naming the same owner (a leave and a registration handled
-- side by side): the later of the two sees the earlier's committed rows.
-- $1: the owner, an HR employee id (text)
SELECT pg_advisory_xact_lock(hashtext('tenure-owner:' || $1));
