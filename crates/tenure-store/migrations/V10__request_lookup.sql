-- Ingest refuses to approve or fulfil a request that was rejected or cancelled: it
-- looks up the request's latest state in the journal by source and request id.
CREATE INDEX projection_events_request ON projection_events (source_system, (payload->>'request_id'))
    WHERE event_type = 'access_request_changed';
