-- The stored next offsets of a consumer group for the partitions it was assigned, so
-- it resumes where its last committed transaction left off; partitions without a row
-- are not returned (they start from the beginning).
-- $1: consumer group
-- $2: the partitions' topics (text[], parallel to $3)
-- $3: the partitions' numbers (int[], parallel to $2)
SELECT o.topic, o.partition, o.next_offset
  FROM consumer_offsets o
  JOIN UNNEST($2::text[], $3::int[]) AS p(topic, partition)
    ON o.topic = p.topic AND o.partition = p.partition
 WHERE o.consumer_group = $1
