-- Writes the deadlines the identities' states wait for; the scheduler fires them when
-- due. A deadline already present (possibly fired) is kept.
-- $1: deadline ids (uuid[])
-- $2: their identity ids (uuid[])
-- $3: their kinds (text[])
-- $4: their grant ids, NULL where a deadline names no grant (uuid[])
-- $5: when each falls due (timestamptz[])
INSERT INTO deadlines (deadline_id, identity_id, kind, grant_id, due_time)
SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::timestamptz[])
ON CONFLICT (deadline_id) DO NOTHING;
