-- How many failures connectors reported for a command so far: each retryable
-- failure waits longer than the one before.
-- $1: command id
SELECT failures FROM command_tracking WHERE command_id = $1;
