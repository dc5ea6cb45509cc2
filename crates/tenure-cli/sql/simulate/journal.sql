-- The whole recorded history in log order, from the projector's journal: what
-- `tenure simulate` runs a candidate policy over.
SELECT event_id, identity_id, effective_time, recorded_time, source_system,
       source_event_id, causation_id, payload
  FROM projection_events
 ORDER BY log_partition, log_offset
