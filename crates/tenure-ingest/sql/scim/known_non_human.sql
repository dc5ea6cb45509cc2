-- Whether an identity is a service account, API key or agent Tenure already knows,
-- so SCIM refuses to create a User over it. Returns a row if so.
-- $1: identity id
SELECT 1
  FROM projection_identities
 WHERE identity_id = $1
   AND kind IN ('service_account', 'api_key', 'agent')
