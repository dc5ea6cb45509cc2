-- Every direct membership in a managed role, for reconciliation: the roles are the
-- ones given (empty: every role that is not PostgreSQL's own pg_* role).
-- $1: managed role names (text[])
SELECT m.rolname AS login, r.rolname AS role
  FROM pg_auth_members am
  JOIN pg_roles r ON r.oid = am.roleid
  JOIN pg_roles m ON m.oid = am.member
 WHERE (cardinality($1::text[]) = 0 AND r.rolname NOT LIKE 'pg\_%')
    OR r.rolname = ANY($1::text[])
 ORDER BY m.rolname, r.rolname;
