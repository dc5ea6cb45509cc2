-- The folded states of every identity holding (or having held) a grant on one system:
-- what reconciliation compares a connector's observation of that system with.
-- $1: system
SELECT state_version, state
  FROM projection_identities
 WHERE identity_id IN (SELECT identity_id FROM projection_grants WHERE system = $1);
