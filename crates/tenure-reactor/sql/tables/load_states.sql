-- The reactor's folded states (JSON, with the version of their shape) of these
-- identities, locked for the batch's transaction.
-- $1: identity ids (uuid[])
SELECT state_version, state FROM reactor_identities WHERE identity_id = ANY($1) FOR UPDATE;
