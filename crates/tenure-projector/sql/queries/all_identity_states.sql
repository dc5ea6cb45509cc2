-- Every projected identity's folded state, for the CLI, the demo and tests.
SELECT state
  FROM projection_identities;
