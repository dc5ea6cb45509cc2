-- Records the revocations a batch's facts decided, with their cause, for the
-- revocations-by-cause series; a fact seen again changes nothing.
-- $1: command ids (uuid[])
-- $2: grant ids (uuid[])
-- $3: identity ids (uuid[])
-- $4: causes (text[])
-- $5: effective times of the decisions (timestamptz[])
INSERT INTO projection_revocations (command_id, grant_id, identity_id, cause, issued_at)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::timestamptz[])
    ON CONFLICT (command_id) DO NOTHING;
