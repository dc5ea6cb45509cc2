-- The latest state of each access request named in a submission, read from the
-- projection's journal so intake can refuse to fulfil a request already rejected or
-- cancelled. Returns source system, request id and state per request.
-- $1: the requests' source systems (text[], parallel to $2)
-- $2: the requests' ids in their source systems (text[], parallel to $1)
SELECT DISTINCT ON (source_system, payload->>'request_id')
       source_system, payload->>'request_id', payload->>'state'
  FROM projection_events
 WHERE event_type = 'access_request_changed'
   AND (source_system, payload->>'request_id') IN
       (SELECT * FROM unnest($1::text[], $2::text[]))
 ORDER BY source_system, payload->>'request_id', effective_time DESC, recorded_time DESC
