-- The SCIM Users whose externalId is this one (case-exact, as RFC 7643 says of
-- externalId): an identity provider's lookup before it creates anyone. Served by the
-- index projection_identities_external_id (V22).
-- $1: the externalId looked for
SELECT state_version, state
  FROM projection_identities
 WHERE kind IN ('employee', 'contractor')
   AND tenure_scim_external_id(state->'attributes'->>'source_record') = $1
