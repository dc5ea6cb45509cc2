-- Stores a partition's first offset for a consumer group inside the consumer's
-- transaction; if another instance stored one meanwhile no row is written and this
-- instance is fenced off.
-- $1: consumer group
-- $2: topic
-- $3: partition
-- $4: the next offset (the offset to consume next)
-- $5: how many messages this advance handled (bigint)
INSERT INTO consumer_offsets (consumer_group, topic, partition, next_offset, messages_processed)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT DO NOTHING
