//! The store's SQL, kept in `sql/<area>/*.sql` rather than in Rust string literals:
//! one place to read and review every statement this crate sends, each file saying
//! why the statement exists and what its parameters are, and a test prepares each
//! against the migrated schema (through [`ALL`]), so a statement that no longer fits
//! the tables fails there rather than in production.
//!
//! Only what must be built at run time (`CREATE SCHEMA`, `CREATE DATABASE` and
//! `DROP DATABASE` naming a schema or database given at run time, in [`crate::db`])
//! stays in Rust.

/// Declares a crate's SQL statements from its `sql/` directory: one `pub const` per
/// file (its text, included at build time) and `ALL`, every statement with its name,
/// so a test can prepare each against the migrated schema. Every crate that owns SQL
/// declares its statements with it.
#[macro_export]
macro_rules! sql_statements {
    ($($(#[$doc:meta])* $name:ident = $path:literal;)*) => {
        $($(#[$doc])* pub const $name: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/sql/", $path));)*
        /// Every statement with its name, so a test can prepare each against the migrated schema.
        #[allow(dead_code)]
        pub const ALL: &[(&str, &str)] = &[$((stringify!($name), $name)),*];
    };
}

crate::sql_statements! {
    /// Wakes the listeners of a channel when the caller's transaction commits.
    ANNOUNCE_WORK = "wakeup/announce.sql";
    /// Writes messages into the outbox with the state change that caused them, once per id.
    INSERT_OUTBOX_MESSAGES = "outbox/insert_messages.sql";
    /// Locks the oldest unpublished, unheld messages for a relay to publish.
    UNPUBLISHED_MESSAGES = "outbox/unpublished_messages.sql";
    /// Records that the broker acknowledged messages, so they are not published again.
    MARK_MESSAGES_PUBLISHED = "outbox/mark_published.sql";
    /// Counts the messages waiting to be published (the outbox depth).
    COUNT_UNPUBLISHED_MESSAGES = "outbox/count_unpublished.sql";
    /// Counts the messages the safety brake holds back.
    COUNT_HELD_MESSAGES = "outbox/count_held.sql";
    /// Makes the caller's transaction read the outbox through its partial indexes.
    PREFER_INDEX_SCANS = "outbox/prefer_index_scans.sql";
    /// Puts back the scan settings PREFER_INDEX_SCANS replaced.
    RESTORE_SCANS = "outbox/restore_scans.sql";
    /// Reads a consumer group's stored next offsets for its assigned partitions.
    LOAD_OFFSETS = "offsets/load_offsets.sql";
    /// Moves a stored offset forward only if it is the expected one (fencing).
    ADVANCE_OFFSET = "offsets/advance_offset.sql";
    /// Stores a partition's first offset unless another instance stored one.
    INSERT_FIRST_OFFSET = "offsets/insert_first_offset.sql";
    /// Reads a consumer group's stored next offset of every partition of a topic.
    PARTITION_POSITIONS = "offsets/positions.sql";
    /// Parks a record a consumer cannot process, with all it needs to be sent back.
    PARK_DEAD_LETTER = "dead_letters/park.sql";
    /// Lists the parked records an operator selected, oldest first.
    LIST_DEAD_LETTERS = "dead_letters/list.sql";
    /// Records that parked records were sent back to their topics.
    MARK_DEAD_LETTERS_RETRIED = "dead_letters/mark_retried.sql";
    /// Counts the parked records waiting for an operator, per consumer group.
    COUNT_WAITING_DEAD_LETTERS_BY_GROUP = "dead_letters/waiting_by_group.sql";
    /// Tells whether a database exists, before creating Tenure's.
    DATABASE_EXISTS = "db/database_exists.sql";
    /// Takes the advisory lock that keeps concurrent starts from migrating together.
    LOCK_MIGRATIONS = "db/lock_migrations.sql";
    /// Releases the migration advisory lock.
    UNLOCK_MIGRATIONS = "db/unlock_migrations.sql";
    /// Reads the latest migration applied, for commands that must not migrate.
    APPLIED_SCHEMA_VERSION = "db/applied_schema_version.sql";
}
