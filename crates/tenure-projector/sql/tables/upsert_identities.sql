-- Writes a batch's identities (one array element per identity): inserted when new,
-- otherwise every projected column replaced by the new fold.
-- $1: identity ids (uuid[])
-- $2: kinds (text[])
-- $3: statuses (text[])
-- $4: roles, NULL where none (text[])
-- $5: display names, NULL where none (text[])
-- $6: source person ids, NULL where none (text[])
-- $7: events applied so far (bigint[])
-- $8: folded states (json[])
-- $9: the owner of each live non-human identity, NULL for every other (text[])
-- $10: whether each is an orphaned non-human identity (bool[])
-- $11: the version of the state documents' shape (smallint, the core's STATE_DOCUMENT_VERSION)
-- $12: logins, NULL where none (text[]): SCIM's userName lookups
-- $13: the externalId of each SCIM source record, NULL where none (text[]): SCIM's
--      externalId lookups
INSERT INTO projection_identities (identity_id, kind, status, role, display_name, source_person_id,
                                   events_applied, state, owned_by, orphaned, login,
                                   scim_external_id, state_version, updated_at)
SELECT *, $11::smallint, now()
  FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
              $7::bigint[], $8::json[], $9::text[], $10::bool[], $12::text[], $13::text[])
    ON CONFLICT (identity_id) DO UPDATE SET
       kind = EXCLUDED.kind, status = EXCLUDED.status, role = EXCLUDED.role,
       display_name = EXCLUDED.display_name, source_person_id = EXCLUDED.source_person_id,
       events_applied = EXCLUDED.events_applied, state = EXCLUDED.state,
       owned_by = EXCLUDED.owned_by, orphaned = EXCLUDED.orphaned,
       login = EXCLUDED.login, scim_external_id = EXCLUDED.scim_external_id,
       state_version = EXCLUDED.state_version, updated_at = now();
