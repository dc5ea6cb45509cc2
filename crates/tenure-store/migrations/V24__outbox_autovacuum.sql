-- The outbox is a queue: every row is written once and updated once (published), by
-- the thousand a second under load. With the default thresholds (a fifth of the
-- table changed) autovacuum and analyse reach it late, so the relay's index reads
-- wade through dead entries and the planner's estimates lag. Vacuum and analyse it
-- after every few thousand changes instead.
ALTER TABLE outbox SET (
    autovacuum_vacuum_scale_factor = 0.0,
    autovacuum_vacuum_threshold = 5000,
    autovacuum_analyze_scale_factor = 0.0,
    autovacuum_analyze_threshold = 5000
);
