-- The parked records an operator selected, oldest first, to list them or send them
-- back to their topics.
-- $1: only these dead letter ids (bigint[]; empty: all)
-- $2: only this consumer group (text; NULL: all)
-- $3: include those already sent back (boolean)
SELECT id, consumer_group, topic, partition, log_offset, error, parked_at, retried_at,
       length(payload), record_key, payload, headers
  FROM dead_letters
 WHERE (cardinality($1::bigint[]) = 0 OR id = ANY($1))
   AND ($2::text IS NULL OR consumer_group = $2)
   AND ($3 OR retried_at IS NULL)
 ORDER BY id
