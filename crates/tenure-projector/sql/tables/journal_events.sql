-- Journals a batch of lifecycle events (one array element per event); an event id
-- journaled before is skipped, and only the new ids are returned, so a redelivered event
-- is never applied twice.
-- $1: event ids (uuid[])
-- $2: identity ids (uuid[])
-- $3: event types (text[])
-- $4: effective times (timestamptz[])
-- $5: recorded times (timestamptz[])
-- $6: source systems (text[])
-- $7: source event ids (text[])
-- $8: causation ids, NULL where none (uuid[])
-- $9: event payloads (json[])
-- $10: log partitions (int[])
-- $11: log offsets (bigint[])
INSERT INTO projection_events (event_id, identity_id, event_type, effective_time, recorded_time,
                               source_system, source_event_id, causation_id, payload,
                               log_partition, log_offset)
SELECT *
  FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::timestamptz[],
              $6::text[], $7::text[], $8::uuid[], $9::json[], $10::int[], $11::bigint[])
    ON CONFLICT (event_id) DO NOTHING
RETURNING event_id;
