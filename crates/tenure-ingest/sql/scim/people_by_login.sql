-- The SCIM Users whose userName (Tenure's login) is this one, compared without
-- regard to case as RFC 7643 says of userName: an identity provider's lookup before
-- it creates anyone. Served by the index projection_identities_login (V21).
-- $1: the userName looked for
SELECT state_version, state
  FROM projection_identities
 WHERE kind IN ('employee', 'contractor')
   AND lower(state->'attributes'->>'login') = lower($1)
