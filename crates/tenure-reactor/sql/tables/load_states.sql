-- The reactor's folded states (JSON) of these identities, locked for the batch's
-- transaction.
-- $1: identity ids (uuid[])
SELECT state FROM reactor_identities WHERE identity_id = ANY($1) FOR UPDATE;
