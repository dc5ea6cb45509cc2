-- A person's display name, else their source person id, for the demo report.
-- $1: identity id
SELECT coalesce(display_name, source_person_id) FROM projection_identities WHERE identity_id = $1
