-- Dead letters become a work queue an operator can act on: each gets an id to name
-- it by, keeps its record's key and headers so it can be published again exactly
-- as it was, and remembers when it was sent back for another try.
ALTER TABLE dead_letters ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE dead_letters ADD CONSTRAINT dead_letters_id_key UNIQUE (id);
ALTER TABLE dead_letters ADD COLUMN record_key bytea;
-- The record's headers as JSON bytes (bytea, not jsonb: header text may hold NUL).
ALTER TABLE dead_letters ADD COLUMN headers bytea NOT NULL DEFAULT '\x5b5d';
ALTER TABLE dead_letters ADD COLUMN retried_at timestamptz;
CREATE INDEX dead_letters_waiting ON dead_letters (consumer_group) WHERE retried_at IS NULL;
