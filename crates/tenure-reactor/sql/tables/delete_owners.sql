-- Removes non-human identities that are gone or have no owner from the owner index.
-- $1: identity ids (uuid[])
DELETE FROM reactor_nhi_owners WHERE identity_id = ANY($1);
