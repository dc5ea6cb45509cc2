-- Starts tracking newly issued commands until their connector acknowledges them; a
-- re-decided command keeps its first row.
-- $1: command ids (uuid[])
-- $2: identity ids (uuid[])
-- $3: grant ids, nil for a rotation (uuid[])
-- $4: target systems (text[])
-- $5: why each was issued: a revocation's cause, leave_of_absence or rotation (text[])
-- $6: the events that triggered them (uuid[])
-- $7: when they were issued (timestamptz[])
-- $8: when each is published again unless acknowledged first (timestamptz[])
-- $9: command types (text[])
INSERT INTO command_tracking (command_id, identity_id, grant_id, target_system, cause, trigger_event_id,
                              issued_at, next_attempt_at, command_type)
SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::uuid[],
                     $7::timestamptz[], $8::timestamptz[], $9::text[])
ON CONFLICT (command_id) DO NOTHING;
