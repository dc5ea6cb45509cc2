-- Writes outgoing messages into the outbox inside the caller's transaction, so they
-- are stored with the state change that caused them; a message id already present is
-- skipped (ids are deterministic, so the same decision written twice is stored once).
-- A message with a hold reason is held back (the safety brake) from the moment it is
-- written. The arrays are parallel, one element per message, in writing order.
-- $1: message ids (uuid[])
-- $2: topics to publish to (text[])
-- $3: message keys (text[])
-- $4: encoded payloads (bytea[])
-- $5: headers, each a JSON array of [name, value] pairs (jsonb[])
-- $6: why each message is held back, NULL when it is not (text[])
INSERT INTO outbox (message_id, topic, message_key, payload, headers, held_at, held_reason)
SELECT id, topic, message_key, payload, headers,
       CASE WHEN held_reason IS NULL THEN NULL ELSE clock_timestamp() END, held_reason
  FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::bytea[], $5::jsonb[], $6::text[])
       WITH ORDINALITY AS m(id, topic, message_key, payload, headers, held_reason, n)
 ORDER BY n
ON CONFLICT (message_id) DO NOTHING
