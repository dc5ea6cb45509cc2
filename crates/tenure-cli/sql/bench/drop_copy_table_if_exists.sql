-- Removes the COPY benchmark's scratch table a previous, interrupted run left behind.
DROP TABLE IF EXISTS bench_copy
