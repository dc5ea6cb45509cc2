-- Whether the people named as owners in a request exist, are people (employees or
-- contractors) and have left, read from the projection so intake can refuse a grant
-- owned by nobody accountable. Returns source person id, whether the identity is a
-- person, and its status.
-- $1: the owners' identity ids (uuid[])
SELECT source_person_id, kind IN ('employee', 'contractor'), status
  FROM projection_identities
 WHERE identity_id = ANY($1)
