-- The median time to revoke (seconds) of revocations acknowledged per UTC day, for the
-- dashboard's time-to-revoke series.
-- $1: start of the first day charted
SELECT date_trunc('day', acknowledged_at, 'UTC'),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds)
  FROM revocation_times
 WHERE acknowledged_at >= $1
 GROUP BY 1;
