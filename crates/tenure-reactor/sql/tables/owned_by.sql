-- The live non-human identities owned by any of these people, to notify each when its
-- owner leaves.
-- $1: owners, HR employee ids (text[])
SELECT owner, identity_id
  FROM reactor_nhi_owners
 WHERE owner = ANY($1)
 ORDER BY owner, identity_id;
