-- Which of these identities have the given status (the reactor asks for those that
-- left), so a non-human identity registered under a departed owner is orphaned at once.
-- $1: identity ids (uuid[])
-- $2: the status asked for (text)
SELECT identity_id
  FROM reactor_identities
 WHERE identity_id = ANY($1) AND status = $2;
