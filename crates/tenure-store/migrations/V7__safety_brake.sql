-- The safety brake: revocation commands held back from publication (a mass revocation
-- from a bad HR feed) until an operator releases them.
ALTER TABLE outbox ADD COLUMN held_at timestamptz, ADD COLUMN held_reason text;
DROP INDEX outbox_unpublished;
CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL AND held_at IS NULL;
CREATE INDEX outbox_held ON outbox (seq) WHERE held_at IS NOT NULL;

-- Active grants per log partition, kept by the reactor in step with its state (one row
-- per partition, so parallel partition transactions do not contend on one row).
CREATE TABLE reactor_totals (
    log_partition int    PRIMARY KEY,
    active_grants bigint NOT NULL
);

-- When an operator last released the brake: revocations before it no longer count.
CREATE TABLE brake_state (
    id          int         PRIMARY KEY CHECK (id = 1),
    released_at timestamptz
);
INSERT INTO brake_state (id) VALUES (1);
