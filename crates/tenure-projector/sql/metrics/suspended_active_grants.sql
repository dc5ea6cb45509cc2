-- Active grants suspended for a leave of absence, for the `tenure_suspended_grants` gauge
-- of `/metrics`.
SELECT count(*)
  FROM projection_grants
 WHERE status = 'active' AND suspended;
