-- Request-to-fulfilment times of ITSM access requests and their SLA breaches, for
-- `/metrics`: how many requests were fulfilled, the sum of their times (seconds), a
-- cumulative count per histogram bound, how many were fulfilled late, and how many are
-- still open past the SLA (neither fulfilled nor rejected or cancelled).
-- $1: histogram upper bounds, seconds (float8[])
-- $2: fulfilment SLA, seconds
-- $3: fulfilment SLA, hours
WITH requested AS (
    SELECT payload->>'request_id' AS request_id, min(effective_time) AS at
      FROM projection_events
     WHERE event_type = 'access_request_changed' AND payload->>'state' = 'requested'
     GROUP BY 1),
closed AS (
    SELECT payload->>'request_id' AS request_id
      FROM projection_events
     WHERE event_type = 'access_request_changed' AND payload->>'state' IN ('rejected', 'cancelled')),
fulfilled AS (
    SELECT payload->'origin'->'request'->>'request_id' AS request_id, min(effective_time) AS at
      FROM projection_events
     WHERE event_type = 'access_granted' AND payload->'origin'->'request' IS NOT NULL
     GROUP BY 1),
times AS (
    SELECT GREATEST(EXTRACT(EPOCH FROM f.at - r.at)::float8, 0) AS s
      FROM requested r JOIN fulfilled f USING (request_id))
SELECT (SELECT count(*) FROM times),
       (SELECT COALESCE(sum(s), 0) FROM times),
       (SELECT array_agg((SELECT count(*) FROM times WHERE s <= b) ORDER BY b)
          FROM unnest($1::float8[]) b),
       (SELECT count(*) FROM times WHERE s > $2),
       (SELECT count(*) FROM requested r
         WHERE r.at < now() - make_interval(hours => $3::int)
           AND NOT EXISTS (SELECT 1 FROM fulfilled f WHERE f.request_id = r.request_id)
           AND NOT EXISTS (SELECT 1 FROM closed c WHERE c.request_id = r.request_id));
