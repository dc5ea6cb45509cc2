-- The folded states of the SCIM Users (employees and contractors) with these ids,
-- from the projection; other kinds of identity are not Users.
-- $1: identity ids (uuid[])
SELECT state_version, state
  FROM projection_identities
 WHERE identity_id = ANY($1)
   AND kind IN ('employee', 'contractor')
