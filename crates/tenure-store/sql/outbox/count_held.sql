-- How many messages the safety brake holds back from publication (for /metrics).
SELECT count(*) FROM outbox WHERE held_at IS NOT NULL
