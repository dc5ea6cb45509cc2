-- Parks a record a consumer cannot process, in the transaction that moves past it,
-- keeping everything needed to send it back after a fix; a record already parked at
-- that position is kept as it is.
-- $1: consumer group
-- $2: topic
-- $3: partition
-- $4: the record's offset in its partition
-- $5: the record's key (bytea, NULL when it has none)
-- $6: the record's payload (bytea)
-- $7: the record's headers, as JSON bytes (bytea)
-- $8: why it could not be processed
INSERT INTO dead_letters (consumer_group, topic, partition, log_offset, record_key, payload, headers, error)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT DO NOTHING
