-- Every journaled event of an identity in effective-time order, for
-- `GET /v1/identities/{id}/timeline`.
-- $1: identity id
SELECT event_id, event_type, effective_time, recorded_time, source_system, source_event_id,
       causation_id, payload
  FROM projection_events
 WHERE identity_id = $1
 ORDER BY effective_time, recorded_time, log_offset;
