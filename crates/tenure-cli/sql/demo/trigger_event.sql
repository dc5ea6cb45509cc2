-- The fact that triggered a revocation (its type, source and times), to show and
-- time it in the demo report. No row: not projected.
-- $1: the trigger's event id
SELECT event_type, source_system, effective_time, recorded_time
  FROM projection_events
 WHERE event_id = $1
