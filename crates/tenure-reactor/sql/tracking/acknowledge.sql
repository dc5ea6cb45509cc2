-- Records a connector's confirmation of a tracked command (the first one's time is
-- kept); an acknowledged command is no longer retried.
-- $1: command id
-- $2: when the outcome took effect (timestamptz)
-- $3: the reported status (text)
UPDATE command_tracking
   SET acknowledged_at = COALESCE(acknowledged_at, $2), outcome = $3
 WHERE command_id = $1;
