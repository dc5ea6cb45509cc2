-- The unacknowledged, unescalated commands due for a retry, oldest deadline first, at
-- most 500 a pass; held ones wait for the brake's release. Rows another retrier has
-- locked are skipped.
-- $1: now (timestamptz)
SELECT command_id, attempts, identity_id, grant_id
  FROM command_tracking
 WHERE acknowledged_at IS NULL AND escalated_at IS NULL AND next_attempt_at <= $1
   AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = command_id AND o.held_at IS NOT NULL)
 ORDER BY next_attempt_at
 LIMIT 500
   FOR UPDATE SKIP LOCKED;
