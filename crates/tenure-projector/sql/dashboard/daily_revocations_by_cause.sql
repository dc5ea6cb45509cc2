-- Revocations issued per UTC day (effective time) and cause, for the dashboard's
-- revocations-by-cause series.
-- $1: start of the first day charted
SELECT date_trunc('day', issued_at, 'UTC'), cause, count(*)
  FROM projection_revocations
 WHERE issued_at >= $1
 GROUP BY 1, 2;
