-- Records that the broker acknowledged these messages, so the relay does not publish
-- them again, and counts the attempt.
-- $1: the messages' outbox positions (bigint[] of outbox.seq)
-- $2: when the broker acknowledged them (timestamptz)
UPDATE outbox SET published_at = $2, attempts = attempts + 1 WHERE seq = ANY($1)
