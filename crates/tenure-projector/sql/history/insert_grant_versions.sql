-- Appends a batch's grant history versions (one array element per version), so which
-- grant was held when, and since when Tenure believed it, stays answerable.
-- $1: grant ids (uuid[])
-- $2: identity ids (uuid[])
-- $3: entitlement systems (text[])
-- $4: entitlement resources (text[])
-- $5: entitlement permissions (text[])
-- $6: valid from: when each grant took effect (timestamptz[])
-- $7: valid to: its confirmed revocation, or NULL (timestamptz[])
-- $8: recorded from: when Tenure learnt this version (timestamptz[])
-- $9: recorded to: when a later version in the batch superseded it, or NULL (timestamptz[])
-- $10: ids of the events that produced each version (uuid[])
INSERT INTO grant_history (grant_id, identity_id, system, resource, permission, valid_from, valid_to,
                           recorded_from, recorded_to, event_id)
SELECT *
  FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::timestamptz[],
              $7::timestamptz[], $8::timestamptz[], $9::timestamptz[], $10::uuid[]);
