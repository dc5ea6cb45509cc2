-- How many messages wait to be published, not counting those the safety brake holds
-- (the outbox depth, for /metrics and for waiting until the pipeline is quiet).
SELECT count(*) FROM outbox WHERE published_at IS NULL AND held_at IS NULL
