-- Tracked commands with their delivery state, newest first, for `GET /v1/commands`
-- (capped so one request cannot read the whole table).
-- $1: delivery state to keep: 'unacknowledged', 'escalated' or 'acknowledged'; NULL for all
SELECT command_id, identity_id, grant_id, target_system, cause, trigger_event_id, issued_at,
       attempts, next_attempt_at, acknowledged_at, outcome, failures, last_failure,
       escalated_at, escalation_reason, command_type
  FROM command_tracking
 WHERE CASE $1::text
         WHEN 'unacknowledged' THEN acknowledged_at IS NULL AND escalated_at IS NULL
         WHEN 'escalated' THEN acknowledged_at IS NULL AND escalated_at IS NOT NULL
         WHEN 'acknowledged' THEN acknowledged_at IS NOT NULL
         ELSE TRUE
       END
 ORDER BY issued_at DESC, command_id
 LIMIT 1000;
