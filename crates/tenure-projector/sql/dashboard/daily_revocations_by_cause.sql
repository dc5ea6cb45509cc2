-- Revocations issued per UTC day (effective time) and cause, for the dashboard's
-- revocations-by-cause series.
-- $1: start of the first day charted
SELECT date_trunc('day', effective_time, 'UTC'), payload->>'cause', count(*)
  FROM projection_events
 WHERE event_type = 'revocation_issued' AND effective_time >= $1
 GROUP BY 1, 2;
