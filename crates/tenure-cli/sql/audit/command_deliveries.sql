-- How each command issued for an identity was delivered (acknowledgement time and
-- outcome, escalation), so `tenure audit` can show it beside the revocation that
-- issued the command. Outcome is '' while unacknowledged.
-- $1: identity id
SELECT command_id, acknowledged_at, COALESCE(outcome, ''), escalation_reason
  FROM command_tracking
 WHERE identity_id = $1
