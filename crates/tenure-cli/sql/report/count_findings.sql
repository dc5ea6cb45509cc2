-- What reconciliation found for one identity, by kind (`tenure report`).
-- $1: identity id
SELECT count(*) FILTER (WHERE kind = 'not_removed'),
       count(*) FILTER (WHERE kind = 'out_of_band'),
       count(*) FILTER (WHERE kind = 'missing')
  FROM projection_discrepancies
 WHERE identity_id = $1;
