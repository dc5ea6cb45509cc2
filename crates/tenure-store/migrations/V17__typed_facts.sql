-- The figures about access requests and issued revocations are read from typed
-- tables the projector keeps beside its journal, instead of from JSON paths into the
-- journal's payloads: those payloads are the core's serde output, whose shape may
-- change with the core, and a query reaching into them would break silently.

-- Each access request from an ITSM tool: its latest state and the times the request
-- figures need (request to fulfilment, SLA breaches; intake refuses to fulfil a
-- request that was rejected or cancelled).
CREATE TABLE projection_access_requests (
    source_system        text        NOT NULL,
    request_id           text        NOT NULL,
    identity_id          uuid        NOT NULL,
    -- The latest state by effective, then recorded, time; NULL while only its
    -- fulfilment is known.
    state                text,
    state_effective_time timestamptz,
    state_recorded_time  timestamptz,
    -- First effective time of each milestone.
    requested_at         timestamptz,
    closed_at            timestamptz,
    fulfilled_at         timestamptz,
    PRIMARY KEY (source_system, request_id)
);

-- Each revocation the reactor decided, with its cause, for the revocations-by-cause
-- series.
CREATE TABLE projection_revocations (
    command_id  uuid        PRIMARY KEY,
    grant_id    uuid        NOT NULL,
    identity_id uuid        NOT NULL,
    cause       text        NOT NULL,
    issued_at   timestamptz NOT NULL
);
CREATE INDEX projection_revocations_issued ON projection_revocations (issued_at);

-- An existing journal is carried over once; this is the last reader of those paths.
WITH changes AS (
    SELECT source_system, payload->>'request_id' AS request_id, identity_id,
           payload->>'state' AS state, effective_time, recorded_time
      FROM projection_events
     WHERE event_type = 'access_request_changed'),
latest AS (
    SELECT DISTINCT ON (source_system, request_id) *
      FROM changes
     ORDER BY source_system, request_id, effective_time DESC, recorded_time DESC),
milestones AS (
    SELECT source_system, request_id,
           min(effective_time) FILTER (WHERE state = 'requested') AS requested_at,
           min(effective_time) FILTER (WHERE state IN ('rejected', 'cancelled')) AS closed_at
      FROM changes GROUP BY 1, 2),
fulfilled AS (
    SELECT DISTINCT ON (source_system, request_id) source_system, request_id, identity_id, at
      FROM (SELECT source_system, payload->'origin'->'request'->>'request_id' AS request_id,
                   identity_id, effective_time AS at
              FROM projection_events
             WHERE event_type = 'access_granted' AND payload->'origin'->'request' IS NOT NULL) g
     ORDER BY source_system, request_id, at)
INSERT INTO projection_access_requests
SELECT COALESCE(l.source_system, f.source_system), COALESCE(l.request_id, f.request_id),
       COALESCE(l.identity_id, f.identity_id), l.state, l.effective_time, l.recorded_time,
       m.requested_at, m.closed_at, f.at
  FROM latest l
  JOIN milestones m USING (source_system, request_id)
  FULL JOIN fulfilled f ON f.source_system = l.source_system AND f.request_id = l.request_id;

INSERT INTO projection_revocations
SELECT DISTINCT ON ((payload->>'command_id')::uuid)
       (payload->>'command_id')::uuid, (payload->>'grant_id')::uuid, identity_id,
       payload->>'cause', effective_time
  FROM projection_events
 WHERE event_type = 'revocation_issued'
 ORDER BY (payload->>'command_id')::uuid, effective_time;

DROP INDEX IF EXISTS projection_events_request;

-- The folded state documents say which shape of the core's state they hold, so a
-- service refuses (with a clear error naming the version) a document it cannot read,
-- instead of misreading it; a replay rebuilds them in the current shape.
ALTER TABLE projection_identities ADD COLUMN state_version smallint NOT NULL DEFAULT 1;
ALTER TABLE reactor_identities ADD COLUMN state_version smallint NOT NULL DEFAULT 1;
