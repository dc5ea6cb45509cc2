-- Consumer offsets live beside the state they produced (DESIGN.md, decision 3).
CREATE TABLE consumer_offsets (
    consumer_group     text        NOT NULL,
    topic              text        NOT NULL,
    partition          int         NOT NULL,
    next_offset        bigint      NOT NULL,
    messages_processed bigint      NOT NULL DEFAULT 0,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, partition)
);

-- The transactional outbox: commands and decision facts wait here until published.
CREATE TABLE outbox (
    seq          bigserial   UNIQUE,
    message_id   uuid        PRIMARY KEY,
    topic        text        NOT NULL,
    message_key  text        NOT NULL,
    payload      bytea       NOT NULL,
    headers      jsonb       NOT NULL DEFAULT '[]',
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    published_at timestamptz,
    attempts     int         NOT NULL DEFAULT 0
);
CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;

-- Projector: the journal of every distinct event, in the order it was projected.
CREATE TABLE projection_events (
    event_id        uuid        PRIMARY KEY,
    identity_id     uuid        NOT NULL,
    event_type      text        NOT NULL,
    effective_time  timestamptz NOT NULL,
    recorded_time   timestamptz NOT NULL,
    source_system   text        NOT NULL,
    source_event_id text        NOT NULL,
    causation_id    uuid,
    payload         jsonb       NOT NULL,
    log_partition   int         NOT NULL,
    log_offset      bigint      NOT NULL,
    projected_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX projection_events_identity ON projection_events (identity_id, effective_time);
CREATE INDEX projection_events_causation ON projection_events (causation_id);

-- Projector: current state of each identity (the folded state, plus columns to query).
CREATE TABLE projection_identities (
    identity_id      uuid        PRIMARY KEY,
    kind             text        NOT NULL,
    status           text        NOT NULL,
    role             text,
    display_name     text,
    source_person_id text,
    events_applied   bigint      NOT NULL,
    state            jsonb       NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Projector: current grants.
CREATE TABLE projection_grants (
    grant_id              uuid        PRIMARY KEY,
    identity_id           uuid        NOT NULL,
    system                text        NOT NULL,
    resource              text        NOT NULL,
    permission            text        NOT NULL,
    owner                 text        NOT NULL,
    business_reason       text        NOT NULL,
    expires_at            timestamptz,
    ends_on_role_change   boolean     NOT NULL,
    origin                text        NOT NULL,
    status                text        NOT NULL,
    granted_at            timestamptz NOT NULL,
    revocation_command_id uuid,
    revocation_cause      text,
    status_since          timestamptz
);
CREATE INDEX projection_grants_identity ON projection_grants (identity_id);
CREATE INDEX projection_grants_resource ON projection_grants (system, resource);

-- Reactor: its own folded state per identity, including its own decisions.
CREATE TABLE reactor_identities (
    identity_id uuid        PRIMARY KEY,
    state       jsonb       NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Reactor: events already handled, so a redelivered event is never re-acted upon.
CREATE TABLE reactor_seen_events (
    event_id uuid PRIMARY KEY
);

-- Deadlines the scheduler turns into DeadlineReached events when they fall due.
CREATE TABLE deadlines (
    deadline_id uuid        PRIMARY KEY,
    identity_id uuid        NOT NULL,
    kind        text        NOT NULL,
    grant_id    uuid,
    due_time    timestamptz NOT NULL,
    fired_at    timestamptz
);
CREATE INDEX deadlines_due ON deadlines (due_time) WHERE fired_at IS NULL;
CREATE INDEX deadlines_identity ON deadlines (identity_id);
