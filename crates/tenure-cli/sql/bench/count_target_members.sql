-- How many logins are members of the bench's group role: the bench waits for the
-- connector to have provisioned everyone before it times leavers.
-- $1: the group role
SELECT count(*)
  FROM pg_auth_members am
  JOIN pg_roles r ON r.oid = am.roleid
 WHERE r.rolname = $1;
