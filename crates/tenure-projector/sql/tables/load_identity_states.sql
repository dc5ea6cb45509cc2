-- The folded states of the identities a batch is about, so the batch's events can be
-- applied to them (identities without a row have no events yet).
-- $1: identity ids (uuid[])
SELECT state_version, state
  FROM projection_identities
 WHERE identity_id = ANY($1);
