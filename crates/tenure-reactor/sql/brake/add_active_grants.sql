-- Keeps a log partition's count of active grants in step with the reactor's state
-- (one row per partition, so partition transactions do not contend on one row).
-- $1: log partition
-- $2: change in active grants (may be negative)
INSERT INTO reactor_totals (log_partition, active_grants) VALUES ($1, $2)
ON CONFLICT (log_partition) DO UPDATE
   SET active_grants = reactor_totals.active_grants + $2;
