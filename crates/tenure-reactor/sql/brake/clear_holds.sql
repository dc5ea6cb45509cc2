-- Releases held commands for publication by the relay.
-- $1: the released command ids (uuid[])
UPDATE outbox SET held_at = NULL, held_reason = NULL WHERE message_id = ANY($1);
