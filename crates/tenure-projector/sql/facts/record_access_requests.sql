-- Records what a batch learnt about access requests, merged per request beforehand
-- (one statement may change a row only once): the latest state wins by effective,
-- then recorded, time, whatever order the facts arrive in; each milestone keeps its
-- earliest time (LEAST ignores NULL, the "not in this batch" marker).
-- $1: source systems (text[])
-- $2: request ids (text[])
-- $3: identity ids (uuid[])
-- $4: latest states in the batch (text[], NULL: none)
-- $5: effective times of those states (timestamptz[])
-- $6: recorded times of those states (timestamptz[])
-- $7: requested times (timestamptz[], NULL: not seen)
-- $8: rejected or cancelled times (timestamptz[], NULL: not seen)
-- $9: fulfilment times (timestamptz[], NULL: not seen)
INSERT INTO projection_access_requests AS r
       (source_system, request_id, identity_id, state, state_effective_time,
        state_recorded_time, requested_at, closed_at, fulfilled_at)
SELECT *
  FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::timestamptz[],
              $6::timestamptz[], $7::timestamptz[], $8::timestamptz[], $9::timestamptz[])
    ON CONFLICT (source_system, request_id) DO UPDATE SET
       state = CASE WHEN excluded.state IS NOT NULL AND (r.state IS NULL
                         OR (excluded.state_effective_time, excluded.state_recorded_time)
                            >= (r.state_effective_time, r.state_recorded_time))
                    THEN excluded.state ELSE r.state END,
       state_effective_time = CASE WHEN excluded.state IS NOT NULL AND (r.state IS NULL
                         OR (excluded.state_effective_time, excluded.state_recorded_time)
                            >= (r.state_effective_time, r.state_recorded_time))
                    THEN excluded.state_effective_time ELSE r.state_effective_time END,
       state_recorded_time = CASE WHEN excluded.state IS NOT NULL AND (r.state IS NULL
                         OR (excluded.state_effective_time, excluded.state_recorded_time)
                            >= (r.state_effective_time, r.state_recorded_time))
                    THEN excluded.state_recorded_time ELSE r.state_recorded_time END,
       requested_at = LEAST(r.requested_at, excluded.requested_at),
       closed_at = LEAST(r.closed_at, excluded.closed_at),
       fulfilled_at = LEAST(r.fulfilled_at, excluded.fulfilled_at);
