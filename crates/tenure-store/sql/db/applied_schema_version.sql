-- The latest schema migration applied to this database, so a read-only command can
-- tell a database migrated by this build from an older (or foreign) one without
-- migrating it. Fails with undefined_table when nothing was ever migrated here.
SELECT max(version) FROM refinery_schema_history
