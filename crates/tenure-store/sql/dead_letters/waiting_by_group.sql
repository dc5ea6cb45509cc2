-- How many parked records wait for an operator, per consumer group (for /metrics).
SELECT consumer_group, count(*)
  FROM dead_letters
 WHERE retried_at IS NULL
 GROUP BY consumer_group
 ORDER BY consumer_group
