-- Removes the COPY benchmark's scratch table once measured.
DROP TABLE bench_copy
