-- One identity's folded state, if it was ever seen, for the CLI, the demo and tests.
-- $1: identity id
SELECT state_version, state
  FROM projection_identities
 WHERE identity_id = $1;
