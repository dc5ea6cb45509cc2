-- When the earliest unfired deadline of the kinds this build can fire falls due (NULL
-- when none waits), so the scheduler sleeps exactly until then.
-- $1: the deadline kinds this build knows (text[])
SELECT min(due_time) FROM deadlines WHERE fired_at IS NULL AND kind = ANY($1);
