-- Records the findings of reconciliation among a batch's facts, for the query API
-- and /metrics; a fact seen again changes nothing.
-- $1: event ids (uuid[])
-- $2: observation ids (uuid[])
-- $3: identity ids (uuid[])
-- $4: kinds (text[])
-- $5: systems (text[])
-- $6: resources (text[])
-- $7: permissions (text[])
-- $8: accounts (text[])
-- $9: grant ids, NULL for access never granted (uuid[])
-- $10: connectors (text[])
-- $11: when the connector observed the target (timestamptz[])
INSERT INTO projection_discrepancies
    (event_id, observation_id, identity_id, kind, system, resource, permission, account,
     grant_id, connector, observed_at)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[],
                     $7::text[], $8::text[], $9::uuid[], $10::text[], $11::timestamptz[])
    ON CONFLICT (event_id) DO NOTHING;
