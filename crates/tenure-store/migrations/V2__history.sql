-- Bitemporal grant history: when access was held (valid_*, effective time) and when
-- Tenure believed so (recorded_*, recorded time). A late event closes the believed
-- version (recorded_to) and adds the corrected one; nothing believed before is erased.
CREATE TABLE grant_history (
    version       bigserial   PRIMARY KEY,
    grant_id      uuid        NOT NULL,
    identity_id   uuid        NOT NULL,
    system        text        NOT NULL,
    resource      text        NOT NULL,
    permission    text        NOT NULL,
    valid_from    timestamptz NOT NULL,
    valid_to      timestamptz,
    recorded_from timestamptz NOT NULL,
    recorded_to   timestamptz,
    event_id      uuid        NOT NULL
);
CREATE INDEX grant_history_current_resource ON grant_history (system, resource, valid_from) WHERE recorded_to IS NULL;
CREATE INDEX grant_history_identity ON grant_history (identity_id, valid_from);
CREATE INDEX grant_history_grant ON grant_history (grant_id) WHERE recorded_to IS NULL;

-- Role and status history of identities, versioned the same way.
CREATE TABLE identity_history (
    version       bigserial   PRIMARY KEY,
    identity_id   uuid        NOT NULL,
    status        text        NOT NULL,
    role          text,
    valid_from    timestamptz NOT NULL,
    recorded_from timestamptz NOT NULL,
    event_id      uuid        NOT NULL
);
CREATE INDEX identity_history_identity ON identity_history (identity_id, valid_from);
