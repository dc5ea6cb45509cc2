-- Whether a database exists, asked on the maintenance database before creating
-- Tenure's, so every binary can start against a fresh server. Returns a row if so.
-- $1: database name
SELECT 1 FROM pg_database WHERE datname = $1
