-- Puts back the scan settings prefer_index_scans.sql replaced, for the rest of the
-- caller's transaction.
-- $1: enable_seqscan as it was (text)
-- $2: enable_bitmapscan as it was (text)
SELECT set_config('enable_seqscan', $1, true), set_config('enable_bitmapscan', $2, true)
