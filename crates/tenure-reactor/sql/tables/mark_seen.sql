-- Records event ids as handled by the reactor, so a redelivered event (or one of the
-- reactor's own facts coming back from the log) is not reacted to twice. Returns the
-- ids not seen before.
-- $1: event ids (uuid[])
INSERT INTO reactor_seen_events (event_id)
SELECT * FROM UNNEST($1::uuid[])
ON CONFLICT DO NOTHING
RETURNING event_id;
