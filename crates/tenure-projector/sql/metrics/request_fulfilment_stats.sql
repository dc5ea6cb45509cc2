-- Request-to-fulfilment times of ITSM access requests and their SLA breaches, for
-- `/metrics`: how many requests were fulfilled, the sum of their times (seconds), a
-- cumulative count per histogram bound, how many were fulfilled late, and how many are
-- still open past the SLA (neither fulfilled nor rejected or cancelled).
-- $1: histogram upper bounds, seconds (float8[])
-- $2: fulfilment SLA, seconds
-- $3: fulfilment SLA, hours
WITH times AS (
    SELECT GREATEST(EXTRACT(EPOCH FROM fulfilled_at - requested_at)::float8, 0) AS s
      FROM projection_access_requests
     WHERE requested_at IS NOT NULL AND fulfilled_at IS NOT NULL)
SELECT (SELECT count(*) FROM times),
       (SELECT COALESCE(sum(s), 0) FROM times),
       (SELECT array_agg((SELECT count(*) FROM times WHERE s <= b) ORDER BY b)
          FROM unnest($1::float8[]) b),
       (SELECT count(*) FROM times WHERE s > $2),
       (SELECT count(*) FROM projection_access_requests
         WHERE requested_at < now() - make_interval(hours => $3::int)
           AND fulfilled_at IS NULL AND closed_at IS NULL);
