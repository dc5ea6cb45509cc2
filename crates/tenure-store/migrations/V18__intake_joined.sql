-- Identities whose joiner ingest accepted, recorded as soon as the broker acknowledged
-- it (the raw-topic bridge: with its batch's offsets). Intake refuses a leaver, mover
-- or leave for an identity Tenure has never seen join; this table lets a leaver sent
-- right after its joiner be recognised before the projection has caught up.
CREATE TABLE intake_joined (
    identity_id uuid        PRIMARY KEY,
    accepted_at timestamptz NOT NULL DEFAULT now()
);
