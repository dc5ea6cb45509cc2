-- Signed requests already received, shared by every ingest instance: a captured
-- signed request cannot be sent again (to this instance or another) while its
-- timestamp is still fresh. A request is claimed when it arrives and released if it
-- is refused, so only an accepted request consumes its signature.
CREATE TABLE ingest_signatures (
    signature   text        PRIMARY KEY,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX ingest_signatures_expiry ON ingest_signatures (expires_at);
