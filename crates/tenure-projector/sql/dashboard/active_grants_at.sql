-- How many grants were in force at each of the given times, as currently believed, in the
-- order given, for the dashboard's active-grants series (one time per day's end).
-- $1: the times (timestamptz[])
SELECT (SELECT count(*) FROM grant_history h
         WHERE h.recorded_to IS NULL AND h.valid_from < e
           AND (h.valid_to IS NULL OR h.valid_to >= e))
  FROM unnest($1::timestamptz[]) WITH ORDINALITY AS t(e, n)
 ORDER BY n;
