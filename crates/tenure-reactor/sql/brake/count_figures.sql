-- The figures the brake's rule decides on: revocations issued since the counting
-- window opened (leaving out the exempt causes), and the active grants across all log
-- partitions.
-- $1: start of the counting window (timestamptz)
-- $2: causes the brake does not apply to (text[])
SELECT (SELECT count(*) FROM command_tracking
         WHERE issued_at > $1 AND command_type = 'revoke' AND cause <> ALL($2)),
       (SELECT coalesce(sum(active_grants), 0)::bigint FROM reactor_totals);
