-- Who held a resource at an effective time, as Tenure believed it at a recorded time
-- (bitemporal history), for `GET /v1/access`.
-- $1: effective time (`at`)
-- $2: recorded time (`as_of`)
-- $3: system
-- $4: resource
SELECT *
  FROM grant_history
 WHERE valid_from <= $1 AND (valid_to IS NULL OR valid_to > $1)
   AND recorded_from <= $2 AND (recorded_to IS NULL OR recorded_to > $2)
   AND system = $3 AND resource = $4
 ORDER BY identity_id, valid_from;
