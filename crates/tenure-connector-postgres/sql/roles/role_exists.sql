-- Whether a role exists and may log in: grant creates a missing login, revoke finds
-- nothing to take from one that does not exist, suspend and restore flip the flag.
-- $1: role name
SELECT rolcanlogin FROM pg_roles WHERE rolname = $1;
