-- Which person owns each live non-human identity, so a leaver's reaction can find
-- the service accounts, API keys and agents it orphans without scanning states.
CREATE TABLE reactor_nhi_owners (
    identity_id uuid PRIMARY KEY,
    owner       text NOT NULL
);
CREATE INDEX reactor_nhi_owners_owner ON reactor_nhi_owners (owner);
-- Identities registered before this table existed.
INSERT INTO reactor_nhi_owners (identity_id, owner)
SELECT identity_id, state->'attributes'->>'owner' FROM reactor_identities
 WHERE state->>'kind' IN ('service_account', 'api_key', 'agent')
   AND state->>'status' IN ('active', 'on_leave')
   AND state->'attributes'->>'owner' IS NOT NULL;

-- A grant suspended for its holder's leave of absence is still held, but not usable.
ALTER TABLE projection_grants ADD COLUMN suspended boolean NOT NULL DEFAULT false;
