-- Whether the projection knows an identity, so the API can answer 404 for one it has
-- never seen before reading anything else about it.
-- $1: identity id
SELECT 1
  FROM projection_identities
 WHERE identity_id = $1;
