-- Gives released revocations a fresh retry deadline: time spent held does not count
-- against their acknowledgement.
-- $1: when released commands are next retried unless acknowledged (timestamptz)
-- $2: the released command ids (uuid[])
UPDATE command_tracking SET next_attempt_at = $1 WHERE command_id = ANY($2);
