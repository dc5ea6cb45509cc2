//! `tenure-connector-postgres`: runs the PostgreSQL roles connector until interrupted.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use tenure_connector::{Metrics, RunnerConfig};
use tenure_connector_postgres::{PostgresRoles, SYSTEM};

/// Executes Tenure's commands for PostgreSQL role memberships (entitlements
/// `postgres:<database>:<role>`) and acknowledges them.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Kafka bootstrap servers.
    #[arg(
        long,
        env = "KAFKA_BOOTSTRAP_SERVERS",
        default_value = "127.0.0.1:9092"
    )]
    bootstrap: String,
    /// The database whose roles are managed, as a URL of a role with CREATEROLE.
    #[arg(long, env = "TARGET_DATABASE_URL")]
    target_url: String,
    /// This connector's name in acknowledgements.
    #[arg(long, env = "CONNECTOR_NAME", default_value = "postgres-roles")]
    name: String,
    /// The ledger file that remembers finished commands.
    #[arg(
        long,
        env = "CONNECTOR_LEDGER",
        default_value = "tenure-connector-postgres.ledger"
    )]
    ledger: PathBuf,
    /// "shared" (tenure.commands.v1 and tenure.outcomes.v1) or "per-system"
    /// (tenure.commands.v1.postgres and tenure.outcomes.v1.postgres), as Tenure runs.
    #[arg(long, env = "TENURE_COMMAND_TOPICS", default_value = "shared")]
    command_topics: tenure_kafka::topics::CommandTopics,
    /// Roles reconciliation looks at (comma-separated; empty: all but pg_*).
    #[arg(long, env = "MANAGED_ROLES", value_delimiter = ',')]
    managed_roles: Vec<String>,
    /// Longest one command may take, in seconds.
    #[arg(long, default_value_t = 30)]
    command_timeout_secs: u64,
    /// Serve `/metrics` here.
    #[arg(long, env = "METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// Also list the target for reconciliation every this many seconds (besides
    /// when `tenure reconcile` asks); 0: only when asked.
    #[arg(long, env = "RECONCILE_EVERY_SECS", default_value_t = 0)]
    reconcile_every_secs: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let connector = PostgresRoles::connect(&args.target_url, args.managed_roles)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut config = RunnerConfig::new(&args.bootstrap, SYSTEM, &args.name, args.ledger);
    if args.command_topics == tenure_kafka::topics::CommandTopics::PerSystem {
        config = config.per_system_topics();
    }
    config.command_timeout = Duration::from_secs(args.command_timeout_secs);
    config.metrics_listen = args.metrics_listen;
    config.reconcile_every =
        (args.reconcile_every_secs > 0).then(|| Duration::from_secs(args.reconcile_every_secs));
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
        let _ = stop.send(true);
    });
    tenure_connector::run(connector, config, Metrics::default(), shutdown).await?;
    Ok(())
}
