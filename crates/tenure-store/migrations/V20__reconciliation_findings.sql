-- What reconciliation found: a target system holding other access than Tenure
-- granted. One row per finding fact (`access_discrepancy_found`), kept for the query
-- API, /metrics and the dashboard; the facts themselves stay on the log.
CREATE TABLE projection_discrepancies (
    event_id       uuid        PRIMARY KEY,
    observation_id uuid        NOT NULL,
    identity_id    uuid        NOT NULL,
    kind           text        NOT NULL,
    system         text        NOT NULL,
    resource       text        NOT NULL,
    permission     text        NOT NULL,
    account        text        NOT NULL,
    -- NULL for access Tenure never granted.
    grant_id       uuid,
    connector      text        NOT NULL,
    observed_at    timestamptz NOT NULL
);
CREATE INDEX projection_discrepancies_system ON projection_discrepancies (system, observed_at);
