-- The projected grants on one system, optionally narrowed to a resource and a status,
-- for `GET /v1/grants` (capped so one request cannot read the whole table).
-- $1: system
-- $2: resource, or NULL for every resource
-- $3: grant status (active, revocation_pending, revoked), or NULL for every status
SELECT grant_id, identity_id, system, resource, permission, owner, business_reason, expires_at,
       ends_on_role_change, origin, status, granted_at, status_since, revocation_command_id,
       revocation_cause
  FROM projection_grants
 WHERE system = $1 AND ($2::text IS NULL OR resource = $2) AND ($3::text IS NULL OR status = $3)
 ORDER BY resource, identity_id, grant_id
 LIMIT 10000;
