-- Every fact recorded about an identity, in the order Tenure recorded them (log
-- position breaking ties): the rows of `tenure audit`'s timeline.
-- $1: identity id
SELECT effective_time, recorded_time, source_system, payload
  FROM projection_events
 WHERE identity_id = $1
 ORDER BY recorded_time, log_partition, log_offset
