-- The SCIM Users whose userName (Tenure's login) is this one, compared without
-- regard to case as RFC 7643 says of userName: an identity provider's lookup before
-- it creates anyone. A person HR announced without a login shows their employee id
-- as userName, so that is matched too. Served by the indexes
-- projection_identities_login (V23) and projection_identities_person_key (V21).
-- $1: the userName looked for
SELECT state_version, state
  FROM projection_identities
 WHERE kind IN ('employee', 'contractor')
   AND (lower(login) = lower($1)
        OR (login IS NULL AND lower(source_person_id) = lower($1)))
