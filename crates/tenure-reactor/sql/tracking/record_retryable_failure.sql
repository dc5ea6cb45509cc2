-- Records a connector's retryable failure of a command still unacknowledged, and
-- brings its next publication forward to no later than the time given.
-- $1: command id
-- $2: the failure, as "connector: detail" (text)
-- $3: the reported status (text)
-- $4: republish no later than this (timestamptz)
UPDATE command_tracking
   SET failures = failures + 1, last_failure = $2, outcome = $3,
       next_attempt_at = LEAST(next_attempt_at, $4)
 WHERE command_id = $1 AND acknowledged_at IS NULL;
