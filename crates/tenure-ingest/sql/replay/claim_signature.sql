-- Claims a signed request's signature for this request, forgetting claims whose
-- timestamps can no longer be fresh; returns a row only when no other request holds it.
-- $1: the signature header's value
-- $2: how long the claim lasts, seconds (the freshness window and a margin)
WITH expired AS (
    DELETE FROM ingest_signatures WHERE expires_at < now()
)
INSERT INTO ingest_signatures (signature, expires_at)
VALUES ($1, now() + make_interval(secs => $2::float8))
    ON CONFLICT (signature) DO NOTHING
RETURNING signature
