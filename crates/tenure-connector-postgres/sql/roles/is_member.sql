-- Whether a login is a member of a role (directly): what a grant adds and a revoke
-- must see gone afterwards.
-- $1: the granted role
-- $2: the login
SELECT 1
  FROM pg_auth_members am
  JOIN pg_roles r ON r.oid = am.roleid
  JOIN pg_roles m ON m.oid = am.member
 WHERE r.rolname = $1 AND m.rolname = $2;
