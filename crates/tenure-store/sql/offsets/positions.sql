-- The stored next offset of every partition of a topic a consumer group has
-- committed, to tell how far behind the log it is.
-- $1: consumer group
-- $2: topic
SELECT partition, next_offset FROM consumer_offsets WHERE consumer_group = $1 AND topic = $2
