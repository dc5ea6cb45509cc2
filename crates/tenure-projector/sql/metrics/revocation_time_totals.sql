-- How many revocations were acknowledged and their summed time to revoke (seconds), for
-- the count and sum of the time-to-revoke histogram of `/metrics`.
SELECT count(*), COALESCE(sum(seconds), 0)::float8
  FROM revocation_times;
