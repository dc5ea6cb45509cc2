-- The SCIM Users whose kept source record contains this text (a JSON-encoded
-- externalId, say): a cheap first cut that the exact filter then checks, so an
-- identity provider's externalId lookup does not fold every User in Rust.
-- $1: the text looked for, encoded as it appears in the record's JSON
SELECT state_version, state
  FROM projection_identities
 WHERE kind IN ('employee', 'contractor')
   AND strpos(state->'attributes'->>'source_record', $1) > 0
