-- Unpublished outbox entries: first those waiting to be published, then those held by the
-- safety brake, for the outbox gauges of `/metrics`.
SELECT count(*) FILTER (WHERE held_at IS NULL),
       count(*) FILTER (WHERE held_at IS NOT NULL)
  FROM outbox
 WHERE published_at IS NULL;
