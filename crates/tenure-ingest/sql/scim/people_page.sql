-- One page of SCIM Users (employees and contractors) in a stable order (by identity
-- id), read page after page when a list or a filter needs every User.
-- $1: the identity id to start after (uuid; the nil uuid for the first page)
-- $2: how many Users at most (bigint)
SELECT state_version, state
  FROM projection_identities
 WHERE kind IN ('employee', 'contractor')
   AND identity_id > $1
 ORDER BY identity_id
 LIMIT $2
