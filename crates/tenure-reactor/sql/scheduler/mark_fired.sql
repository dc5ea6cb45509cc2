-- Marks deadlines fired once their DeadlineReached events are on the log.
-- $1: deadline ids (uuid[])
-- $2: when they fired (timestamptz)
UPDATE deadlines SET fired_at = $2 WHERE deadline_id = ANY($1);
