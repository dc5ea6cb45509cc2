//! `tenure-connector-scim`: runs the SCIM provisioning connector until interrupted.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use tenure_connector::{Metrics, RunnerConfig};
use tenure_connector_scim::{ScimConnector, ScimSettings};

/// Executes Tenure's commands on a SCIM 2.0 service provider (entitlements
/// `<system>:<group displayName>:member`) and acknowledges them.
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
    /// The SCIM base URL, under which /Users and /Groups live
    /// (https://app.example.com/scim/v2); plain http only to this machine.
    #[arg(long, env = "SCIM_BASE_URL")]
    base_url: String,
    /// Bearer token for the service provider; prefer the environment variable, which
    /// other users of the machine cannot read from the process list.
    #[arg(long, env = "SCIM_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The system name of the entitlements this connector executes (one per
    /// application when several are provisioned over SCIM).
    #[arg(long, env = "CONNECTOR_SYSTEM", default_value = "scim")]
    system: String,
    /// This connector's name in acknowledgements.
    #[arg(long, env = "CONNECTOR_NAME", default_value = "scim")]
    name: String,
    /// The ledger file that remembers finished commands.
    #[arg(
        long,
        env = "CONNECTOR_LEDGER",
        default_value = "tenure-connector-scim.ledger"
    )]
    ledger: PathBuf,
    /// "shared" (tenure.commands.v1 and tenure.outcomes.v1) or "per-system"
    /// (tenure.commands.v1.<system> and tenure.outcomes.v1.<system>), as Tenure runs.
    #[arg(long, env = "TENURE_COMMAND_TOPICS", default_value = "shared")]
    command_topics: tenure_kafka::topics::CommandTopics,
    /// Longest one command may take, in seconds.
    #[arg(long, default_value_t = 30)]
    command_timeout_secs: u64,
    /// Longest one HTTP request to the service provider may take, in seconds.
    #[arg(long, default_value_t = 10)]
    request_timeout_secs: u64,
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
    let mut settings = ScimSettings::new(&args.base_url);
    settings.token = args.token.filter(|t| !t.is_empty());
    settings.system = args.system.clone();
    settings.request_timeout = Duration::from_secs(args.request_timeout_secs);
    let connector = ScimConnector::new(settings)?;
    connector.probe().await.with_context(|| {
        format!(
            "the SCIM service provider at {} did not answer as expected",
            args.base_url
        )
    })?;
    let mut config = RunnerConfig::new(&args.bootstrap, &args.system, &args.name, args.ledger);
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
