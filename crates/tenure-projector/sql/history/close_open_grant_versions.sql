-- Closes each grant's currently believed history version when a batch records a new one:
-- it stops being believed at the first new version's recorded time (never before it began).
-- $1: grant ids (uuid[])
-- $2: recorded time of each grant's first new version in the batch (timestamptz[])
UPDATE grant_history h
   SET recorded_to = GREATEST(h.recorded_from, c.recorded_from)
  FROM UNNEST($1::uuid[], $2::timestamptz[]) AS c(grant_id, recorded_from)
 WHERE h.grant_id = c.grant_id AND h.recorded_to IS NULL;
