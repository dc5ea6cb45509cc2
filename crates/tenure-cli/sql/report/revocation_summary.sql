-- An identity's revocations for `tenure report`: how many are escalated and still
-- unacknowledged, how many were acknowledged, and the median and longest time to
-- revoke in seconds (NULL when none was acknowledged).
-- $1: identity id
SELECT (SELECT count(*) FROM command_tracking
         WHERE identity_id = $1 AND command_type = 'revoke'
           AND escalated_at IS NOT NULL AND acknowledged_at IS NULL),
       count(*),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds),
       max(seconds)
  FROM revocation_times
 WHERE identity_id = $1
