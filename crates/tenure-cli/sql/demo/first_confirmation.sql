-- When a connector first confirmed a revocation command, to time it in the demo
-- report. No row: not confirmed yet.
-- $1: the revocation command's id
SELECT min(recorded_time)
  FROM projection_events
 WHERE event_type = 'access_revoked' AND causation_id = $1
HAVING count(*) > 0
