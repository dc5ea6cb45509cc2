-- Drops the unfired deadlines of these identities before their states' current ones
-- are written back (a deadline no state waits for any more must not fire).
-- $1: identity ids (uuid[])
DELETE FROM deadlines WHERE identity_id = ANY($1) AND fired_at IS NULL;
