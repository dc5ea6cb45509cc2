-- The ids of every SCIM User (employees and contractors) their source has not deleted,
-- in a stable order (by identity id): an unfiltered list pages through these and reads
-- only the page's Users.
-- $1: the leave reason of a User deleted at its source (tenure_core::intake::DELETED_AT_SOURCE)
SELECT identity_id
  FROM projection_identities
 WHERE kind IN ('employee', 'contractor')
   AND NOT (status = 'left' AND coalesce(state->>'left_reason', '') = $1)
 ORDER BY identity_id
