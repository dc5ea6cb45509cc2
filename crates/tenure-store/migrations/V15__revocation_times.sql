-- Time to revoke, defined once: from the moment the revocation was decided (its
-- trigger's time) to the connector's acknowledgement, never negative (a connector
-- whose clock runs behind reports an acknowledgement "before" the decision). /metrics,
-- the dashboard and `tenure audit` all read it from here.
CREATE VIEW revocation_times AS
SELECT command_id, identity_id, cause, issued_at, acknowledged_at,
       GREATEST(EXTRACT(EPOCH FROM acknowledged_at - issued_at)::float8, 0) AS seconds
  FROM command_tracking
 WHERE command_type = 'revoke' AND acknowledged_at IS NOT NULL;
