-- Every grant an identity holds or held, as projected now, oldest first, for
-- `GET /v1/identities/{id}`.
-- $1: identity id
SELECT grant_id, identity_id, system, resource, permission, owner, business_reason, expires_at,
       ends_on_role_change, origin, status, granted_at, status_since, revocation_command_id,
       revocation_cause
  FROM projection_grants
 WHERE identity_id = $1
 ORDER BY granted_at, grant_id;
