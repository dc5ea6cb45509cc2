-- Makes the rest of the caller's transaction read the outbox through its partial
-- indexes (outbox_unpublished, outbox_held), and returns the settings it replaced.
-- The outbox is a queue: rows are written and published by the thousand a second,
-- and until autovacuum has analysed it the planner takes the unpublished or held rows
-- for many. It then scans the whole table (the brake's count of held rows, inside the
-- brake's lock: 120 ms at 80,000 rows) or builds a bitmap over every dead index entry
-- of a published row (the relay's next batch: 50 ms), where an index scan reads a
-- handful of entries and marks the dead ones so later scans skip them.
SELECT current_setting('enable_seqscan'), current_setting('enable_bitmapscan'),
       set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true)
