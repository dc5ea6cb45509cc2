-- Where a consumer group (the projector) stands in one partition of a topic (the
-- lifecycle log), read before the projection so SCIM knows whether the projection
-- already holds its own recent write of a user (read-your-writes). No row: nothing
-- committed yet.
-- $1: consumer group (the projector's)
-- $2: topic (the lifecycle log)
-- $3: partition the write was delivered to
SELECT next_offset
  FROM consumer_offsets
 WHERE consumer_group = $1 AND topic = $2 AND partition = $3
