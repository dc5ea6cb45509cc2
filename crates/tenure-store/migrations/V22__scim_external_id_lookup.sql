-- Identity providers match a User by externalId before they create or update anyone.
-- The externalId lives in the source record kept as sent (JSON text inside the state
-- document), so it is indexed through a function that reads it and answers NULL for
-- anything that is not a JSON object: a malformed record can never fail a write.
-- (Not parallel safe: the exception block is a subtransaction.)
CREATE FUNCTION tenure_scim_external_id(record text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN (record::jsonb)->>'externalId';
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;

CREATE INDEX projection_identities_external_id
    ON projection_identities (tenure_scim_external_id(state->'attributes'->>'source_record'))
 WHERE kind IN ('employee', 'contractor');
