-- A readable name for every projected identity (its source person id, else its id),
-- for naming identities in `tenure simulate`'s report.
SELECT identity_id, COALESCE(source_person_id, identity_id::text) FROM projection_identities
