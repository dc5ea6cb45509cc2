-- Writes the benchmark's rows into the scratch table with binary COPY (columns
-- uuid, uuid, text, text, text, timestamptz, in table order).
COPY bench_copy FROM STDIN (FORMAT binary)
