-- Queues an unacknowledged command in the outbox again: the relay republishes it
-- under the same id.
-- $1: command id
UPDATE outbox SET published_at = NULL WHERE message_id = $1;
