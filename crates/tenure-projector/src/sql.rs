//! The projector's SQL, kept in `sql/*.sql` (one statement per file, each saying why it
//! exists and what its parameters are) and compiled in here, so there is one place to
//! read and review every statement the projector runs, and a test can prepare each
//! against the migrated schema. Only statements naming a schema chosen at run time
//! (the replay's) are still built in Rust, next to their use in [`crate::replay`].

tenure_store::sql_statements! {
    // The query API (`api.rs`).
    /// Whether the projection knows an identity (404 otherwise).
    IDENTITY_EXISTS = "api/identity_exists.sql";
    /// One identity's projected row, for `GET /v1/identities/{id}`.
    IDENTITY_BY_ID = "api/identity_by_id.sql";
    /// Every grant of one identity as projected now, oldest first.
    GRANTS_OF_IDENTITY = "api/grants_of_identity.sql";
    /// An identity's status and role at an effective time, as believed at a recorded time.
    IDENTITY_STATUS_AT = "api/identity_status_at.sql";
    /// The grants an identity held at an effective time, as believed at a recorded time.
    GRANTS_HELD_BY_IDENTITY_AT = "api/grants_held_by_identity_at.sql";
    /// Who held a resource at an effective time, as believed at a recorded time.
    HOLDERS_OF_RESOURCE_AT = "api/holders_of_resource_at.sql";
    /// The grants on one system, optionally narrowed to a resource and a status.
    GRANTS_OF_SYSTEM = "api/grants_of_system.sql";
    /// Every journaled event of one identity, in effective-time order.
    TIMELINE_OF_IDENTITY = "api/timeline_of_identity.sql";
    /// The governance counters of `GET /v1/governance` and `/metrics`, in one round trip.
    GOVERNANCE_COUNTERS = "api/governance_counters.sql";
    /// Tracked commands with their delivery state, optionally narrowed to one state.
    TRACKED_COMMANDS = "api/tracked_commands.sql";
    /// Reads reconciliation's findings, newest first (`GET /v1/reconciliation/findings`).
    RECONCILIATION_FINDINGS = "api/reconciliation_findings.sql";
    /// Counts reconciliation's findings by system and kind (`/metrics`).
    COUNT_RECONCILIATION_FINDINGS = "metrics/reconciliation_findings.sql";

    // `/metrics` (`metrics.rs`).
    /// Each consumer group's next offset on one topic, per partition (for consumer lag).
    CONSUMER_OFFSETS_ON_TOPIC = "metrics/consumer_offsets_on_topic.sql";
    /// Request-to-fulfilment times and SLA breaches of ITSM access requests.
    REQUEST_FULFILMENT_STATS = "metrics/request_fulfilment_stats.sql";
    /// Projected events per source system and event type.
    EVENTS_BY_SOURCE_AND_TYPE = "metrics/events_by_source_and_type.sql";
    /// Every consumer group's position and processed records, per topic and partition.
    CONSUMER_POSITIONS = "metrics/consumer_positions.sql";
    /// Unpublished outbox entries: waiting, and held by the safety brake.
    OUTBOX_DEPTH = "metrics/outbox_depth.sql";
    /// Active grants suspended for a leave of absence.
    SUSPENDED_ACTIVE_GRANTS = "metrics/suspended_active_grants.sql";
    /// Count and summed seconds of acknowledged revocations.
    REVOCATION_TIME_TOTALS = "metrics/revocation_time_totals.sql";
    /// The cumulative time-to-revoke histogram over given upper bounds.
    REVOCATION_TIME_BUCKETS = "metrics/revocation_time_buckets.sql";

    // The dashboard's series (`dashboard.rs`).
    /// Events from outside Tenure recorded per UTC day.
    DAILY_EXTERNAL_EVENTS = "dashboard/daily_external_events.sql";
    /// Revocations issued per UTC day and cause.
    DAILY_REVOCATIONS_BY_CAUSE = "dashboard/daily_revocations_by_cause.sql";
    /// Grants in force at each of the given times, as currently believed.
    ACTIVE_GRANTS_AT = "dashboard/active_grants_at.sql";
    /// The median time to revoke of revocations acknowledged per UTC day.
    DAILY_MEDIAN_TIME_TO_REVOKE = "dashboard/daily_median_time_to_revoke.sql";

    // Bitemporal history (`history.rs`).
    /// Closes the open history version of each grant a batch records anew.
    CLOSE_OPEN_GRANT_VERSIONS = "history/close_open_grant_versions.sql";
    /// Appends a batch's grant history versions.
    INSERT_GRANT_VERSIONS = "history/insert_grant_versions.sql";
    /// Appends a batch's identity history versions.
    INSERT_IDENTITY_VERSIONS = "history/insert_identity_versions.sql";

    // The projection's writes (`tables.rs`).
    /// Journals a batch's events, returning the ids not journaled before.
    JOURNAL_EVENTS = "tables/journal_events.sql";
    /// Records what a batch learnt about access requests (state and milestones).
    RECORD_ACCESS_REQUESTS = "facts/record_access_requests.sql";
    /// Records the revocations a batch decided, with their causes.
    RECORD_REVOCATIONS = "facts/record_revocations.sql";
    /// Records reconciliation's findings among a batch's facts.
    RECORD_DISCREPANCIES = "facts/record_discrepancies.sql";
    /// The folded states of the identities a batch is about.
    LOAD_IDENTITY_STATES = "tables/load_identity_states.sql";
    /// Inserts or replaces a batch's identities.
    UPSERT_IDENTITIES = "tables/upsert_identities.sql";
    /// Inserts the grants a batch touched, or updates what can change on them.
    UPSERT_GRANTS = "tables/upsert_grants.sql";

    // Reads for the CLI, the demo and tests (`queries.rs`).
    /// Every projected identity's folded state.
    ALL_IDENTITY_STATES = "queries/all_identity_states.sql";
    /// One identity's folded state.
    IDENTITY_STATE = "queries/identity_state.sql";
    /// How many distinct events the projection holds.
    EVENT_COUNT = "queries/event_count.sql";
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// The text of a statement without its comment lines.
    fn body(text: &str) -> String {
        text.lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn each_file_holds_one_statement_that_says_why_and_names_its_parameters() {
        for (name, text) in super::ALL {
            assert!(text.starts_with("-- "), "{name}: say first why it exists");
            let body = body(text);
            assert!(!body.trim().is_empty(), "{name}: holds no statement");
            let statement = body.trim_end().strip_suffix(';');
            assert!(
                statement.is_some_and(|s| !s.contains(';')),
                "{name}: one statement, ending in a semicolon"
            );
            let mut rest = body.as_str();
            while let Some(at) = rest.find('$') {
                rest = &rest[at + 1..];
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                assert!(
                    digits.is_empty() || text.contains(&format!("-- ${digits}: ")),
                    "{name}: parameter ${digits} is not described"
                );
            }
        }
    }

    #[test]
    fn every_file_is_a_statement_and_every_name_is_unique() {
        let names: BTreeSet<&str> = super::ALL.iter().map(|(n, _)| *n).collect();
        assert_eq!(names.len(), super::ALL.len());
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
        let mut files = 0;
        for area in std::fs::read_dir(&dir).expect("sql/ is readable") {
            for file in std::fs::read_dir(area.expect("an area").path()).expect("an area dir") {
                let path = file.expect("a file").path();
                assert_eq!(path.extension().and_then(|e| e.to_str()), Some("sql"));
                files += 1;
            }
        }
        assert_eq!(
            files,
            super::ALL.len(),
            "a file under sql/ is not in `statements!`"
        );
    }
}
