-- Every held revocation with its identity and grant, locked for an operator's release
-- so that exactly these rows are released and recorded on the log.
SELECT o.message_id, t.identity_id, t.grant_id
  FROM outbox o
  JOIN command_tracking t ON t.command_id = o.message_id
 WHERE o.held_at IS NOT NULL
 ORDER BY o.seq
   FOR UPDATE OF o;
