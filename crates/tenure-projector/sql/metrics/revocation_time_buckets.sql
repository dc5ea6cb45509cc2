-- The cumulative time-to-revoke histogram of `/metrics`: for each upper bound, how many
-- revocations were acknowledged within it.
-- $1: histogram upper bounds, seconds (float8[])
SELECT b, count(t.s)
  FROM unnest($1::float8[]) b
  LEFT JOIN (SELECT seconds AS s FROM revocation_times) t ON t.s <= b
 GROUP BY b
 ORDER BY b;
