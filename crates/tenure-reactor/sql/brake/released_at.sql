-- When an operator last released the brake (NULL if never): revocations issued
-- before it no longer count towards the brake's threshold.
SELECT released_at FROM brake_state WHERE id = 1;
