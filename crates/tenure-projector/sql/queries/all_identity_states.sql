-- Every projected identity's folded state, for the CLI, the demo and tests.
SELECT state_version, state
  FROM projection_identities;
