//! Every SQL statement Tenure runs lives in a `.sql` file of the service that owns
//! the table, and each one is valid against the migrated schema: PostgreSQL prepares
//! every statement here (parsing it and resolving each table, column and parameter
//! type), so a migration that drops or renames a column a statement needs fails this
//! test instead of a service at run time. A scan of the sources keeps SQL text out of
//! Rust code.

use std::path::{Path, PathBuf};

use tenure_tests::pg_server;

/// Every crate's statements, as (crate, name, text).
fn all_statements() -> Vec<(&'static str, &'static str, &'static str)> {
    let crates: [(&str, &[(&str, &str)]); 4] = [
        ("tenure-store", tenure_store::sql::ALL),
        ("tenure-projector", tenure_projector::sql::ALL),
        ("tenure-reactor", tenure_reactor::sql::ALL),
        ("tenure-ingest", tenure_ingest::sql::ALL),
    ];
    crates
        .into_iter()
        .flat_map(|(krate, all)| all.iter().map(move |(name, text)| (krate, *name, *text)))
        .collect()
}

#[tokio::test]
async fn every_statement_prepares_against_the_migrated_schema() -> anyhow::Result<()> {
    let url = format!("{}/tenure_test_sql_statements", pg_server());
    tenure_store::Database::drop_database(&url).await?;
    let db = tenure_store::Database::connect(&url).await?;
    let client = db.client().await?;
    let statements = all_statements();
    assert!(
        statements.len() > 50,
        "expected Tenure's statements, found {}",
        statements.len()
    );
    let mut failures = Vec::new();
    for (krate, name, text) in &statements {
        if !text.trim_start().starts_with("--") {
            failures.push(format!(
                "{krate} {name}: the file must start with a comment saying why it exists"
            ));
        }
        if let Err(e) = client.prepare(text).await {
            let detail = e
                .as_db_error()
                .map(|d| d.message().to_string())
                .unwrap_or_else(|| e.to_string());
            failures.push(format!("{krate} {name}: {detail}"));
        }
    }
    assert!(
        failures.is_empty(),
        "statements that do not prepare:\n{}",
        failures.join("\n")
    );
    Ok(())
}

#[tokio::test]
async fn a_broken_statement_is_caught() -> anyhow::Result<()> {
    // The check above would pass vacuously if prepare accepted anything.
    let url = format!("{}/tenure_test_sql_statements_broken", pg_server());
    tenure_store::Database::drop_database(&url).await?;
    let db = tenure_store::Database::connect(&url).await?;
    let client = db.client().await?;
    let err = client
        .prepare("SELECT no_such_column FROM projection_grants")
        .await
        .expect_err("a statement naming a missing column must not prepare");
    assert!(err.as_db_error().is_some(), "{err}");
    Ok(())
}

/// Rust files under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_sql_text_in_rust_sources() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates");
    let mut files = Vec::new();
    for krate in [
        "tenure-store",
        "tenure-projector",
        "tenure-reactor",
        "tenure-ingest",
        "tenure-cli",
        "tenure-gen",
        "tenure-core",
        "tenure-connector-postgres",
    ] {
        rust_files(&root.join(krate).join("src"), &mut files);
    }
    assert!(files.len() > 20, "found only {} source files", files.len());
    let starts = [
        "\"SELECT ",
        "\"INSERT ",
        "\"UPDATE ",
        "\"DELETE ",
        "\"WITH ",
        "\"COPY ",
        "\"CREATE ",
        "\"DROP ",
        "\"ALTER ",
        "\"TRUNCATE ",
        "\"LOCK ",
    ];
    let mut offenders = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (n, line) in lines.iter().enumerate() {
            let upper = line.to_uppercase();
            if !starts.iter().any(|s| upper.contains(s)) {
                continue;
            }
            // SQL naming a run-time schema or database cannot be a fixed file; such
            // lines say so a few lines above.
            let explained = lines[n.saturating_sub(6)..n]
                .iter()
                .any(|l| l.contains("Built at run time"));
            if !explained {
                offenders.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "SQL belongs in the owning crate's sql/ directory:\n{}",
        offenders.join("\n")
    );
}
