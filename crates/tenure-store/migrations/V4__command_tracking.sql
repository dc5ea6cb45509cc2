-- Every revocation command until its connector confirms it: retried with the same id
-- when unacknowledged, escalated on a permanent failure or when retries run out.
CREATE TABLE command_tracking (
    command_id        uuid        PRIMARY KEY,
    identity_id       uuid        NOT NULL,
    grant_id          uuid        NOT NULL,
    target_system     text        NOT NULL,
    cause             text        NOT NULL,
    trigger_event_id  uuid        NOT NULL,
    issued_at         timestamptz NOT NULL,
    attempts          int         NOT NULL DEFAULT 1,
    next_attempt_at   timestamptz NOT NULL,
    acknowledged_at   timestamptz,
    outcome           text,
    failures          int         NOT NULL DEFAULT 0,
    last_failure      text,
    escalated_at      timestamptz,
    escalation_reason text
);
CREATE INDEX command_tracking_due ON command_tracking (next_attempt_at)
    WHERE acknowledged_at IS NULL AND escalated_at IS NULL;
CREATE INDEX command_tracking_escalated ON command_tracking (escalated_at) WHERE escalated_at IS NOT NULL;
