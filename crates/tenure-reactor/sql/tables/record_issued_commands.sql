-- Records what was issued under each command id, so that ingest can check a
-- connector's acknowledgement against it; a re-decided command keeps its first row.
-- $1: command ids (uuid[])
-- $2: command types (text[])
-- $3: identity ids (uuid[])
-- $4: grant ids, nil for a rotation (uuid[])
-- $5: target systems (text[])
-- $6: when the commands were issued (timestamptz)
INSERT INTO issued_commands (command_id, command_type, identity_id, grant_id, target_system, issued_at)
SELECT *, $6::timestamptz
  FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::uuid[], $5::text[])
ON CONFLICT (command_id) DO NOTHING;
