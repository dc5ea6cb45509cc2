-- The COPY benchmark's scratch table: grant-like rows with a uuid primary key, to
-- measure PostgreSQL's raw write rate against the projector's.
CREATE TABLE bench_copy (grant_id uuid PRIMARY KEY, identity_id uuid NOT NULL, system text NOT NULL,
                         resource text NOT NULL, permission text NOT NULL, granted_at timestamptz NOT NULL)
