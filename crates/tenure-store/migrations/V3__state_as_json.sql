-- Folded states are written whole on every change and read whole by id; `json`
-- stores the text as given, sparing PostgreSQL a jsonb conversion per write.
ALTER TABLE projection_identities ALTER COLUMN state TYPE json USING state::json;
ALTER TABLE reactor_identities ALTER COLUMN state TYPE json USING state::json;
ALTER TABLE projection_events ALTER COLUMN payload TYPE json USING payload::json;
