-- An identity's status and role at an effective time, as Tenure believed it at a recorded
-- time: the latest history version valid then, for `GET /v1/identities/{id}/access`.
-- $1: identity id
-- $2: effective time (`at`)
-- $3: recorded time (`as_of`)
SELECT status, role
  FROM identity_history
 WHERE identity_id = $1 AND valid_from <= $2 AND recorded_from <= $3
 ORDER BY valid_from DESC, recorded_from DESC, version DESC
 LIMIT 1;
