-- The governance counters of `GET /v1/governance` and `/metrics`, in one round trip; the
-- OpenAPI document defines each.
-- $1: now (grants expiring before it are past expiry)
-- $2: the time before which a pending revocation is overdue
SELECT
  (SELECT count(*) FROM projection_grants WHERE status = 'active') AS active_grants,
  (SELECT count(*) FROM projection_grants WHERE status <> 'revoked' AND ungoverned)
      AS ungoverned_grants,
  (SELECT count(*) FROM projection_grants WHERE status = 'active' AND expires_at < $1)
      AS past_expiry_active,
  (SELECT count(*) FROM projection_grants
    WHERE status = 'revocation_pending' AND status_since < $2) AS pending_revocations_overdue,
  (SELECT count(*) FROM projection_grants WHERE status = 'revocation_pending')
      AS pending_revocations,
  (SELECT count(*) FROM command_tracking WHERE command_type = 'revoke'
      AND acknowledged_at IS NULL AND escalated_at IS NULL) AS unacknowledged_revocations,
  (SELECT count(*) FROM command_tracking WHERE command_type = 'revoke'
      AND acknowledged_at IS NULL AND escalated_at IS NOT NULL) AS escalated_revocations,
  (SELECT count(*) FROM command_tracking WHERE command_type <> 'revoke'
      AND acknowledged_at IS NULL AND escalated_at IS NOT NULL) AS escalated_other_commands,
  (SELECT count(*) FROM projection_identities WHERE orphaned) AS orphaned_non_human_identities,
  (SELECT count(*) FROM projection_discrepancies WHERE kind = 'not_removed')
      AS reconciliation_not_removed,
  (SELECT count(*) FROM projection_discrepancies WHERE kind = 'out_of_band')
      AS reconciliation_out_of_band;
