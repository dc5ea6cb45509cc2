-- Records identities whose joiner the broker has just acknowledged, so their next
-- events are recognised before the projection catches up; a repeat changes nothing.
-- $1: the joined identities' ids (uuid[])
INSERT INTO intake_joined (identity_id)
SELECT unnest($1::uuid[])
    ON CONFLICT (identity_id) DO NOTHING
