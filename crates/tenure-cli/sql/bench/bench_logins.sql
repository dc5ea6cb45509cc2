-- The logins an earlier bench run left on the server (roles outlive databases), so a
-- new run starts without them.
SELECT rolname FROM pg_roles WHERE rolname LIKE 'tenure\_bench\_p%';
