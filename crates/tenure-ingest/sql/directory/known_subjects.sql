-- Which of the identities that leavers, movers, conversions and leaves of absence
-- name are known to Tenure: their joiner was accepted by ingest, or projected (a
-- pre-hire counts; an identity only seen in events before any joiner does not), so
-- intake refuses an event about someone Tenure has never seen join.
-- $1: the subjects' identity ids (uuid[])
SELECT identity_id
  FROM projection_identities
 WHERE identity_id = ANY($1)
   AND status <> 'unknown'
 UNION
SELECT identity_id
  FROM intake_joined
 WHERE identity_id = ANY($1)
