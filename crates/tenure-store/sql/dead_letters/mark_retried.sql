-- Records that these parked records were sent back to their topics, so they no longer
-- wait for an operator.
-- $1: dead letter ids (bigint[])
UPDATE dead_letters SET retried_at = now() WHERE id = ANY($1)
