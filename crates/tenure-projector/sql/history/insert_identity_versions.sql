-- Appends a batch's identity history versions (status and role from an effective time on),
-- so an identity's status at any time, as believed at any time, stays answerable.
-- $1: identity ids (uuid[])
-- $2: statuses (text[])
-- $3: roles, NULL where none (text[])
-- $4: valid from: the events' effective times (timestamptz[])
-- $5: recorded from: the events' recorded times (timestamptz[])
-- $6: ids of the events that produced each version (uuid[])
INSERT INTO identity_history (identity_id, status, role, valid_from, recorded_from, event_id)
SELECT *
  FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::uuid[]);
