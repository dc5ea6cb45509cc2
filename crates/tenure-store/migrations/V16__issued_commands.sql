-- Every command the reactor issues, written in the transaction that puts it in the
-- outbox: ingest accepts a connector's acknowledgement only for a command listed here,
-- with the same type, identity and grant, from a credential allowed to speak for its
-- target system. Tracked commands issued before this migration are copied in; birthright
-- grant commands issued before it are not known (nothing waits for their
-- acknowledgement).
CREATE TABLE issued_commands (
    command_id    uuid        PRIMARY KEY,
    command_type  text        NOT NULL,
    identity_id   uuid        NOT NULL,
    grant_id      uuid        NOT NULL,
    target_system text        NOT NULL,
    issued_at     timestamptz NOT NULL
);
INSERT INTO issued_commands (command_id, command_type, identity_id, grant_id, target_system, issued_at)
SELECT command_id, command_type, identity_id, grant_id, target_system, issued_at FROM command_tracking
ON CONFLICT DO NOTHING;
