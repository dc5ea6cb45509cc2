-- How many distinct events the projection holds, for the CLI, the demo and tests.
SELECT count(*)
  FROM projection_events;
