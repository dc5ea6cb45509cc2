//! The reactor's SQL, kept in `sql/*.sql` (one statement a file, under the area of the
//! module it serves) and compiled in here: one place to read and review every statement
//! the reactor runs, each with a comment saying why it exists and what its parameters
//! are, and a list ([`ALL`]) a test can prepare against the migrated schema. The
//! modules that run them go through small typed functions; no SQL text lives in Rust.

tenure_store::sql_statements! {
    // The safety brake (brake.rs).
    /// Serialises the brake's decisions and releases across partition transactions.
    TAKE_BRAKE_LOCK = "brake/take_lock.sql";
    /// When an operator last released the brake, which restarts its counting window.
    READ_BRAKE_RELEASED_AT = "brake/released_at.sql";
    /// The figures the brake's rule decides on: recent revocations and active grants.
    COUNT_BRAKE_FIGURES = "brake/count_figures.sql";
    /// Keeps a log partition's count of active grants in step with the reactor's state.
    ADD_ACTIVE_GRANTS = "brake/add_active_grants.sql";
    /// The commands the brake holds back, for operators.
    LIST_HELD_COMMANDS = "brake/list_held.sql";
    /// Locks every held revocation, with its identity and grant, for a release.
    LOCK_HELD_REVOCATIONS = "brake/lock_held.sql";
    /// Gives released revocations a fresh retry deadline.
    RESCHEDULE_RELEASED_COMMANDS = "brake/reschedule_released.sql";
    /// Releases held commands for publication.
    CLEAR_HOLDS = "brake/clear_holds.sql";
    /// Records when an operator released the brake.
    RECORD_BRAKE_RELEASE = "brake/record_release.sql";

    // The reactor's own tables (tables.rs).
    /// Records event ids as handled and returns those not handled before.
    MARK_EVENTS_SEEN = "tables/mark_seen.sql";
    /// Loads (and locks) the reactor's folded states of some identities.
    LOAD_IDENTITY_STATES = "tables/load_states.sql";
    /// Stores the reactor's folded states with each identity's status.
    SAVE_IDENTITY_STATES = "tables/save_states.sql";
    /// Removes non-human identities from the owner index.
    DELETE_NHI_OWNERS = "tables/delete_owners.sql";
    /// Lists live non-human identities under their owners.
    SAVE_NHI_OWNERS = "tables/save_owners.sql";
    /// Serialises partitions that name the same owner.
    LOCK_OWNER = "tables/lock_owner.sql";
    /// Which of some identities have a given status (those that left).
    FIND_IDENTITIES_WITH_STATUS = "tables/identities_with_status.sql";
    /// The non-human identities owned by some people.
    LIST_OWNED_IDENTITIES = "tables/owned_by.sql";
    /// Drops the unfired deadlines of some identities before they are rewritten.
    DELETE_UNFIRED_DEADLINES = "tables/delete_unfired_deadlines.sql";
    /// Writes the deadlines the identities' states wait for.
    INSERT_DEADLINES = "tables/insert_deadlines.sql";
    /// Records what was issued under each command id, for ingest to check against.
    RECORD_ISSUED_COMMANDS = "tables/record_issued_commands.sql";

    // Command tracking (tracking.rs).
    /// Starts tracking newly issued commands until they are acknowledged.
    TRACK_ISSUED_COMMANDS = "tracking/track_issued.sql";
    /// Records a connector's confirmation of a tracked command.
    ACKNOWLEDGE_COMMAND = "tracking/acknowledge.sql";
    /// Records a connector's failure of an unacknowledged command.
    RECORD_COMMAND_FAILURE = "tracking/record_failure.sql";
    /// Escalates a command its connector cannot carry out, once.
    ESCALATE_FAILED_COMMAND = "tracking/escalate_failed.sql";
    /// Records a retryable failure and brings the command's next publication forward.
    RECORD_RETRYABLE_FAILURE = "tracking/record_retryable_failure.sql";
    /// How many failures connectors reported for a command so far.
    FAILURES_SO_FAR = "tracking/failures_so_far.sql";

    // The retrier (retry.rs).
    /// Locks the unacknowledged commands due for a retry.
    LOCK_DUE_UNACKNOWLEDGED = "retry/lock_due.sql";
    /// Escalates a command that was never acknowledged.
    ESCALATE_UNACKNOWLEDGED = "retry/escalate.sql";
    /// Queues an unacknowledged command in the outbox again.
    REQUEUE_COMMAND = "retry/requeue.sql";
    /// Records a republication and when the command is next due.
    RECORD_RETRY_ATTEMPT = "retry/record_attempt.sql";

    // The scheduler (scheduler.rs).
    /// Locks the unfired deadlines due now, of the kinds this build can fire.
    LOCK_DUE_DEADLINES = "scheduler/lock_due.sql";
    /// Marks deadlines fired.
    MARK_DEADLINES_FIRED = "scheduler/mark_fired.sql";
    /// When the earliest unfired deadline falls due.
    NEXT_DEADLINE = "scheduler/next_due.sql";

    // The outbox relay (relay.rs).
    /// Makes the relay single-flight across reactor instances.
    TRY_RELAY_LOCK = "relay/try_lock.sql";
}
