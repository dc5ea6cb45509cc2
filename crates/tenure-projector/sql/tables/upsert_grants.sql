-- Writes the grants a batch touched (one array element per grant): inserted when new,
-- otherwise only what can change after a grant (status, revocation and suspension) is
-- replaced.
-- $1: grant ids (uuid[])
-- $2: identity ids (uuid[])
-- $3: entitlement systems (text[])
-- $4: entitlement resources (text[])
-- $5: entitlement permissions (text[])
-- $6: owners (text[])
-- $7: business reasons (text[])
-- $8: expiry times, NULL where none (timestamptz[])
-- $9: whether each ends on a role change (bool[])
-- $10: origins, `birthright:<role>` or `request:<request id>` (text[])
-- $11: statuses (text[])
-- $12: granted at (timestamptz[])
-- $13: revocation command ids, NULL while active (uuid[])
-- $14: revocation causes, NULL where none (text[])
-- $15: since when each has its status (timestamptz[])
-- $16: whether each is suspended (bool[])
-- $17: whether each lacks an owner, a business reason or a revocation condition (bool[])
INSERT INTO projection_grants (grant_id, identity_id, system, resource, permission, owner,
                               business_reason, expires_at, ends_on_role_change, origin, status,
                               granted_at, revocation_command_id, revocation_cause, status_since,
                               suspended, ungoverned)
SELECT *
  FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[],
              $7::text[], $8::timestamptz[], $9::bool[], $10::text[], $11::text[],
              $12::timestamptz[], $13::uuid[], $14::text[], $15::timestamptz[],
              $16::bool[], $17::bool[])
    ON CONFLICT (grant_id) DO UPDATE SET
       status = EXCLUDED.status, revocation_command_id = EXCLUDED.revocation_command_id,
       revocation_cause = EXCLUDED.revocation_cause,
       status_since = EXCLUDED.status_since, suspended = EXCLUDED.suspended;
