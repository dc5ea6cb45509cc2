-- Who owns a live non-human identity, and whether it is orphaned, are decided by the
-- core (tenure_core::process::owner_to_notify, tenure_core::governance::is_orphaned)
-- when the projector writes the identity; queries only count and match. Rows written
-- before this migration are filled once here from the stored state (`tenure replay`
-- recomputes them from the log).
ALTER TABLE projection_identities ADD COLUMN owned_by text;
ALTER TABLE projection_identities ADD COLUMN orphaned boolean NOT NULL DEFAULT false;
UPDATE projection_identities
   SET owned_by = CASE WHEN kind IN ('service_account', 'api_key', 'agent')
                        AND status IN ('active', 'on_leave')
                       THEN state->'attributes'->>'owner' END,
       orphaned = kind IN ('service_account', 'api_key', 'agent')
                  AND status IN ('active', 'on_leave')
                  AND state->>'orphaned_until' IS NOT NULL;
CREATE INDEX projection_identities_owned_by ON projection_identities (owned_by) WHERE owned_by IS NOT NULL;
