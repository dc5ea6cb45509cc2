-- The cheapest query PostgreSQL can answer: /readyz reports the database up only if
-- a pooled connection answers it in time.
SELECT 1
