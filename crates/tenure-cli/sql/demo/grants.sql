-- Every projected grant with its holder, for the demo report's grant table: person,
-- role ('' when none), entitlement as system:resource:permission, origin, owner, expiry,
-- whether it ends on a role change, status, revocation cause ('' when none).
SELECT coalesce(i.display_name, i.source_person_id, i.identity_id::text), coalesce(i.role, ''),
       g.system || ':' || g.resource || ':' || g.permission, g.origin, g.owner,
       g.expires_at, g.ends_on_role_change, g.status, coalesce(g.revocation_cause, '')
  FROM projection_grants g
  JOIN projection_identities i USING (identity_id)
 ORDER BY i.source_person_id, g.granted_at, 3
