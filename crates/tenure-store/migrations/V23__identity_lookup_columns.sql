-- The SCIM lookups by userName and by externalId read two values that V21 and V22
-- indexed through expressions over the state document (JSON text). Every write of an
-- identity then parsed the document twice more and entered a subtransaction (the
-- exception block of tenure_scim_external_id): more than half the cost of the
-- projector's busiest statement. The projector now writes both values beside the
-- document, taken from the state it already holds, and the indexes are plain.
ALTER TABLE projection_identities
    ADD COLUMN login text,
    ADD COLUMN scim_external_id text;

UPDATE projection_identities
   SET login = state->'attributes'->>'login',
       scim_external_id = tenure_scim_external_id(state->'attributes'->>'source_record');

DROP INDEX projection_identities_login;
DROP INDEX projection_identities_external_id;
DROP FUNCTION tenure_scim_external_id(text);

CREATE INDEX projection_identities_login ON projection_identities (lower(login))
 WHERE kind IN ('employee', 'contractor');
CREATE INDEX projection_identities_external_id ON projection_identities (scim_external_id)
 WHERE kind IN ('employee', 'contractor');
