-- Which of the given logins are still members of the bench's group role: the bench
-- times a leaver until its membership is really gone from PostgreSQL.
-- $1: the group role
-- $2: the logins still waited for (text[])
SELECT m.rolname
  FROM pg_auth_members am
  JOIN pg_roles r ON r.oid = am.roleid
  JOIN pg_roles m ON m.oid = am.member
 WHERE r.rolname = $1 AND m.rolname = ANY($2::text[]);
