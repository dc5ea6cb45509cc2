-- The unfired deadlines due now, of the kinds this build can fire, earliest first, at
-- most 500 a pass; rows another scheduler has locked are skipped.
-- $1: now (timestamptz)
-- $2: the deadline kinds this build knows (text[])
SELECT deadline_id, identity_id, kind, grant_id, due_time
  FROM deadlines
 WHERE fired_at IS NULL AND due_time <= $1
   AND kind = ANY($2)
 ORDER BY due_time
 LIMIT 500
   FOR UPDATE SKIP LOCKED;
