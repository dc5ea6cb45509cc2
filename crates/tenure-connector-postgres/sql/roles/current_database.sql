-- The database this connector is connected to: entitlements name it as their
-- resource, and a command for another database is not this connector's to run.
SELECT current_database();
