-- The SCIM Users whose externalId is this one (case-exact, as RFC 7643 says of
-- externalId): an identity provider's lookup before it creates anyone. Served by the
-- index projection_identities_external_id (V23); the projector writes the column
-- from the source record kept as sent.
-- $1: the externalId looked for
SELECT state_version, state
  FROM projection_identities
 WHERE kind IN ('employee', 'contractor')
   AND scim_external_id = $1
