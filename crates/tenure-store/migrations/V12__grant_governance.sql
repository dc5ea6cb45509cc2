-- Whether a grant lacks an owner, a business reason or a revocation condition is
-- decided by the core (tenure_core::governance::is_ungoverned) when the projector
-- writes the grant; queries only count. Rows written before this migration get the
-- same definition once here (`tenure replay` recomputes them from the log).
ALTER TABLE projection_grants ADD COLUMN ungoverned boolean NOT NULL DEFAULT false;
UPDATE projection_grants
   SET ungoverned = (btrim(owner) = '' OR btrim(business_reason) = ''
                     OR (expires_at IS NULL AND NOT ends_on_role_change));
