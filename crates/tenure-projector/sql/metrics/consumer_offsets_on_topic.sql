-- Where each consumer group stands on one topic, per partition, so `/metrics` can report
-- consumer lag against the broker's end offsets.
-- $1: topic
SELECT consumer_group, partition, next_offset
  FROM consumer_offsets
 WHERE topic = $1;
