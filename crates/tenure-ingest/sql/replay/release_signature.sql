-- Releases a signature whose request was refused, so the sender may resend it as it is.
-- $1: the signature header's value
DELETE FROM ingest_signatures WHERE signature = $1
