-- What the demo still waits for before it calls the pipeline settled: deadlines due
-- by the end of the scenario that have not fired, and revocations not yet confirmed.
-- $1: the end of the scenario (timestamptz)
SELECT (SELECT count(*) FROM deadlines WHERE fired_at IS NULL AND due_time <= $1),
       (SELECT count(*) FROM projection_grants WHERE status = 'revocation_pending')
