-- What Tenure issued under the command ids connectors acknowledge, so ingest accepts
-- an acknowledgement only for a command issued with the same type, identity, grant
-- and target system. Absent ids were never issued.
-- $1: the acknowledged command ids (uuid[])
SELECT command_id, command_type, identity_id, grant_id, target_system
  FROM issued_commands
 WHERE command_id = ANY($1)
