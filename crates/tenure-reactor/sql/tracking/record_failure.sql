-- Records a connector's failure of a command still unacknowledged.
-- $1: command id
-- $2: the failure, as "connector: detail" (text)
-- $3: the reported status (text)
UPDATE command_tracking
   SET failures = failures + 1, last_failure = $2, outcome = $3
 WHERE command_id = $1 AND acknowledged_at IS NULL;
