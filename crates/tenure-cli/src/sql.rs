//! The `tenure` command's own SQL, kept in `sql/<area>/*.sql` rather than in Rust
//! string literals: one place to read and review every statement the command sends
//! (readiness, audit and report, simulation, the demo and the benchmark), each file
//! saying why the statement exists and what its parameters are, and a test prepares
//! each against the migrated schema (through [`ALL`]).

tenure_store::sql_statements! {
    /// Asks PostgreSQL the cheapest question, for `/readyz`.
    PING = "services/ping.sql";
    /// Reads how each command issued for an identity was delivered (`tenure audit`).
    COMMAND_DELIVERIES = "audit/command_deliveries.sql";
    /// Reads every fact recorded about an identity, in recorded order (`tenure audit`).
    IDENTITY_EVENTS = "audit/identity_events.sql";
    /// Summarises an identity's escalated and acknowledged revocations (`tenure report`).
    REVOCATION_SUMMARY = "report/revocation_summary.sql";
    /// Counts reconciliation's findings about an identity by kind (`tenure report`).
    COUNT_FINDINGS = "report/count_findings.sql";
    /// Counts the identities a person owns (`tenure report`).
    COUNT_OWNED_IDENTITIES = "report/count_owned_identities.sql";
    /// Reads the whole journal in log order (`tenure simulate`).
    JOURNAL_IN_LOG_ORDER = "simulate/journal.sql";
    /// Reads a readable name for every projected identity (`tenure simulate`).
    IDENTITY_NAMES = "simulate/identity_names.sql";
    /// Counts the due deadlines and unconfirmed revocations the demo waits for.
    UNSETTLED_WORK = "demo/unsettled_work.sql";
    /// Reads every projected grant with its holder (demo report).
    DEMO_GRANTS = "demo/grants.sql";
    /// Reads the revocation commands written to the outbox, in order (demo report).
    REVOCATION_COMMANDS = "demo/revocation_commands.sql";
    /// Reads the fact that triggered a revocation (demo report).
    TRIGGER_EVENT = "demo/trigger_event.sql";
    /// Reads when a revocation command was first confirmed (demo report).
    FIRST_CONFIRMATION = "demo/first_confirmation.sql";
    /// Lists the demo target's memberships in the demo's group roles (demo report).
    TARGET_MEMBERSHIPS = "demo/target_memberships.sql";
    /// Reads a person's display name (demo report).
    PERSON_NAME = "demo/person_name.sql";
    /// Which of the timed leavers' logins are still members of the bench's group role.
    TARGET_MEMBERS = "bench/target_members.sql";
    /// Counts the members of the bench's group role (provisioning done?).
    COUNT_TARGET_MEMBERS = "bench/count_target_members.sql";
    /// Lists the logins an earlier bench run left on the server.
    BENCH_LOGINS = "bench/bench_logins.sql";
    /// Drops the COPY benchmark's scratch table a previous run left behind.
    DROP_COPY_TABLE_IF_EXISTS = "bench/drop_copy_table_if_exists.sql";
    /// Creates the COPY benchmark's scratch table.
    CREATE_COPY_TABLE = "bench/create_copy_table.sql";
    /// Writes the COPY benchmark's rows with binary COPY.
    COPY_ROWS = "bench/copy_rows.sql";
    /// Drops the COPY benchmark's scratch table once measured.
    DROP_COPY_TABLE = "bench/drop_copy_table.sql";
    /// Reads an active employee to own the ingest benchmark's grants.
    ACTIVE_EMPLOYEE = "bench/active_employee.sql";
}

#[cfg(test)]
mod tests {
    /// Each statement of the command prepares against a freshly migrated database
    /// (the workspace's `tests/sql_statements.rs` does the same for the libraries,
    /// which a test outside this binary can reach).
    #[tokio::test]
    async fn every_statement_prepares_against_the_migrated_schema() {
        let server = std::env::var("TENURE_TEST_PG")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
        let url = format!("{server}/tenure_test_cli_statements");
        tenure_store::Database::drop_database(&url).await.unwrap();
        let db = tenure_store::Database::connect(&url).await.unwrap();
        let client = db.client().await.unwrap();
        let mut failures = Vec::new();
        for (name, text) in super::ALL {
            if !text.trim_start().starts_with("--") {
                failures.push(format!("{name}: no leading comment"));
            }
            if let Err(e) = client.prepare(text).await {
                failures.push(format!("{name}: {e:?}"));
            }
        }
        assert!(
            super::ALL.len() >= 10,
            "found {} statements",
            super::ALL.len()
        );
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
