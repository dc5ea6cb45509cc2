-- One page of SCIM Users (employees and contractors) in a stable order (by identity
-- id), for an unfiltered list request.
-- $1: how many Users to skip (startIndex - 1, bigint)
-- $2: how many Users at most (count, bigint)
SELECT state_version, state
  FROM projection_identities
 WHERE kind IN ('employee', 'contractor')
 ORDER BY identity_id
OFFSET $1 LIMIT $2
