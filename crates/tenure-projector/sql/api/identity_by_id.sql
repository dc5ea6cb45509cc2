-- One identity's projected row, for `GET /v1/identities/{id}` (its grants are read by
-- grants_of_identity.sql).
-- $1: identity id
SELECT identity_id, kind, status, role, display_name, source_person_id, events_applied, state
  FROM projection_identities
 WHERE identity_id = $1;
