-- Records a republication and when the command is next due unless acknowledged.
-- $1: command id
-- $2: when it is next due (timestamptz)
-- $3: the attempt number, counting the first publication (int)
UPDATE command_tracking SET attempts = $3, next_attempt_at = $2 WHERE command_id = $1;
