-- The grants an identity held at an effective time, as Tenure believed it at a recorded
-- time (bitemporal history), for `GET /v1/identities/{id}/access`.
-- $1: effective time (`at`)
-- $2: recorded time (`as_of`)
-- $3: identity id
SELECT *
  FROM grant_history
 WHERE valid_from <= $1 AND (valid_to IS NULL OR valid_to > $1)
   AND recorded_from <= $2 AND (recorded_to IS NULL OR recorded_to > $2)
   AND identity_id = $3
 ORDER BY valid_from, grant_id;
