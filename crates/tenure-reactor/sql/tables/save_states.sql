-- Stores the reactor's folded states, with each identity's status kept beside it for
-- lookups by status.
-- $1: identity ids (uuid[])
-- $2: the states, serialised (json[])
-- $3: the identities' statuses (text[])
-- $4: the version of the state documents' shape (smallint, the core's STATE_DOCUMENT_VERSION)
INSERT INTO reactor_identities (identity_id, state, status, state_version)
SELECT *, $4::smallint FROM UNNEST($1::uuid[], $2::json[], $3::text[])
ON CONFLICT (identity_id) DO UPDATE
   SET state = EXCLUDED.state, status = EXCLUDED.status,
       state_version = EXCLUDED.state_version, updated_at = now();
