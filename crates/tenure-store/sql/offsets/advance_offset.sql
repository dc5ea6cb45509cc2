-- Moves a partition's stored offset forward inside the consumer's transaction, only
-- if it is still the one this instance expects (compare-and-set): a stale instance
-- changes no row and is fenced off. Counts the messages handled.
-- $1: consumer group
-- $2: topic
-- $3: partition
-- $4: the next offset this instance expects to be stored
-- $5: the new next offset (the offset to consume next)
-- $6: how many messages this advance handled (bigint)
UPDATE consumer_offsets
   SET next_offset = $5, messages_processed = messages_processed + $6, updated_at = now()
 WHERE consumer_group = $1 AND topic = $2 AND partition = $3 AND next_offset = $4
