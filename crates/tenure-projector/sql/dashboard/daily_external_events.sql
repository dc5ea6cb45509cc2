-- Events recorded per UTC day that came from outside Tenure (not the reactor's or the
-- scheduler's own), for the dashboard's event series.
-- $1: start of the first day charted
SELECT date_trunc('day', recorded_time, 'UTC'), count(*)
  FROM projection_events
 WHERE recorded_time >= $1 AND source_system NOT IN ('tenure-reactor', 'tenure-scheduler')
 GROUP BY 1;
