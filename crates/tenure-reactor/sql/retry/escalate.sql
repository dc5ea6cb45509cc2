-- Escalates a command that was never acknowledged: it is no longer retried.
-- $1: command id
-- $2: when it was escalated (timestamptz)
-- $3: why (text)
UPDATE command_tracking SET escalated_at = $2, escalation_reason = $3 WHERE command_id = $1;
