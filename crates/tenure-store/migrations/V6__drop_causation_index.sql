-- Lookups by cause go through command_tracking; this index only slowed every journal write.
DROP INDEX IF EXISTS projection_events_causation;
