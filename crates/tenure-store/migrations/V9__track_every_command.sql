-- Suspensions, restorations and rotations are tracked until acknowledged, like
-- revocations; this says which sort of command each row is.
ALTER TABLE command_tracking ADD COLUMN command_type text NOT NULL DEFAULT 'revoke';
