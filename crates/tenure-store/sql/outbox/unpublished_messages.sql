-- The oldest messages waiting to be published (not held by the safety brake), in the
-- order they were written, for the relay. Inside a transaction the rows are locked and
-- rows another relay has locked are skipped, so parallel relays never publish the
-- same message.
-- $1: how many messages at most (bigint)
SELECT seq, message_id, topic, message_key, payload, headers, attempts
  FROM outbox
 WHERE published_at IS NULL AND held_at IS NULL
 ORDER BY seq
 LIMIT $1
   FOR UPDATE SKIP LOCKED
