-- Reconciliation's findings, newest observation first, optionally for one system and
-- one kind, for `GET /v1/reconciliation/findings` (capped so one request cannot read
-- the whole table).
-- $1: system, or NULL for every system
-- $2: kind (out_of_band, not_removed, missing), or NULL for every kind
SELECT event_id, observation_id, identity_id, kind, system, resource, permission, account,
       grant_id, connector, observed_at
  FROM projection_discrepancies
 WHERE ($1::text IS NULL OR system = $1) AND ($2::text IS NULL OR kind = $2)
 ORDER BY observed_at DESC, system, account, resource, permission
 LIMIT 10000;
