-- The demo target's role memberships that the demo's policy grants: what the
-- PostgreSQL connector really changed, shown before and after the leaver and mover.
-- $1: the demo's group roles (text[])
SELECT m.rolname AS login, r.rolname AS role
  FROM pg_auth_members am
  JOIN pg_roles r ON r.oid = am.roleid
  JOIN pg_roles m ON m.oid = am.member
 WHERE r.rolname = ANY($1::text[])
 ORDER BY r.rolname, m.rolname;
