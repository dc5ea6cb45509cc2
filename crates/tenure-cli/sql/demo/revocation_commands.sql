-- The revocation commands the reactor wrote to the outbox, in the order written,
-- with when each was published: the rows of the demo report's revocation table.
-- $1: the commands topic
SELECT payload, published_at
  FROM outbox
 WHERE topic = $1 AND headers @> '[["ce_type", "tenure.commands.v1.revoke"]]'
 ORDER BY seq
