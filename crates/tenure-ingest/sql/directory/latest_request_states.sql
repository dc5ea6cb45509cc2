-- The latest state of each access request named in a submission, read from the
-- projector's table of requests so intake can refuse to fulfil a request already rejected or
-- cancelled. Returns source system, request id and state per request.
-- $1: the requests' source systems (text[], parallel to $2)
-- $2: the requests' ids in their source systems (text[], parallel to $1)
SELECT source_system, request_id, state
  FROM projection_access_requests
 WHERE (source_system, request_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
