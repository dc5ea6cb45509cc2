-- How many lifecycle events the projection holds per source system and event type, for
-- the `tenure_events_total` counter of `/metrics`.
SELECT source_system, event_type, count(*)
  FROM projection_events
 GROUP BY 1, 2
 ORDER BY 1, 2;
