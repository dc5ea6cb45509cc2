//! `tenure-connector-postgres`: runs the PostgreSQL roles connector until interrupted.

use clap::Parser;
use tenure_connector::RunnerArgs;
use tenure_connector_postgres::{PostgresRoles, SYSTEM};

/// Executes Tenure's commands for PostgreSQL role memberships (entitlements
/// `postgres:<database>:<role>`) and acknowledges them.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// The database whose roles are managed, as a URL of a role with CREATEROLE.
    #[arg(long, env = "TARGET_DATABASE_URL")]
    target_url: String,
    /// Roles reconciliation looks at (comma-separated; empty: all but pg_*).
    #[arg(long, env = "MANAGED_ROLES", value_delimiter = ',')]
    managed_roles: Vec<String>,
    #[command(flatten)]
    runner: RunnerArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tenure_connector::init_logging();
    let args = Args::parse();
    let connector = PostgresRoles::connect(&args.target_url, args.managed_roles)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    tenure_connector::run_until_signalled(connector, args.runner.config(SYSTEM)).await?;
    Ok(())
}
