-- An active employee from the projected history (the first by identity id), to own
-- the access the HTTP ingest benchmark grants.
SELECT source_person_id
  FROM projection_identities
 WHERE status = 'active' AND kind = 'employee'
 ORDER BY identity_id
 LIMIT 1
