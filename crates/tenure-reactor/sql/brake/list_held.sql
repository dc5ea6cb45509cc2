-- The commands the brake holds back, oldest first, for operators (at most 1000).
SELECT message_id, message_key, held_at, held_reason
  FROM outbox
 WHERE held_at IS NOT NULL
 ORDER BY seq
 LIMIT 1000;
