-- Tells the processes listening on a channel that this transaction wrote work for
-- them; PostgreSQL delivers the notice when (and only if) the transaction commits,
-- and folds repeats within one transaction into one.
-- $1: the channel (text)
SELECT pg_notify($1, '')
