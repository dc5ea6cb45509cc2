-- Every consumer group's position and processed-record count per topic and partition,
-- for the consumer counters and gauges of `/metrics`.
SELECT consumer_group, topic, partition, messages_processed, next_offset
  FROM consumer_offsets
 ORDER BY 1, 2, 3;
