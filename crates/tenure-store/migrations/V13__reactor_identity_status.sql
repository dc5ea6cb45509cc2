-- The reactor asks "has this owner left?" of a column it writes with each state, not
-- of a path into the state's serialised form (which belongs to the core and may
-- change shape). Existing rows are filled from the state once.
ALTER TABLE reactor_identities ADD COLUMN status text;
UPDATE reactor_identities SET status = state->>'status';
