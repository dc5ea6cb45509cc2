-- How many SCIM Users (employees and contractors) the projection holds: a list
-- response's totalResults.
SELECT count(*) FROM projection_identities WHERE kind IN ('employee', 'contractor')
