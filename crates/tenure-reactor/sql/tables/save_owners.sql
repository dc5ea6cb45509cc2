-- Lists live non-human identities under their owners, so a leaving owner's identities
-- can be found and notified.
-- $1: identity ids (uuid[])
-- $2: their owners, HR employee ids (text[])
INSERT INTO reactor_nhi_owners (identity_id, owner)
SELECT * FROM UNNEST($1::uuid[], $2::text[])
ON CONFLICT (identity_id) DO UPDATE SET owner = EXCLUDED.owner;
