-- Escalates a command its connector cannot carry out, once: a command already
-- escalated (or acknowledged) is left as it is, so one fact and the first reason stand.
-- $1: command id
-- $2: when it was escalated (timestamptz)
-- $3: why (text)
UPDATE command_tracking
   SET escalated_at = $2, escalation_reason = $3
 WHERE command_id = $1 AND acknowledged_at IS NULL AND escalated_at IS NULL;
