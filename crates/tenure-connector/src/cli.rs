//! The command-line side every connector binary shares: the same flags and
//! environment variables for where to read, write and remember, the same logging, and
//! the same stop on SIGINT or SIGTERM, so operators configure every connector alike.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tenure_kafka::topics::CommandTopics;

use crate::connector::Connector;
use crate::metrics::Metrics;
use crate::runner::{RunSummary, RunnerConfig, RunnerError};

/// The runner's flags, for `#[command(flatten)]` in a connector's own arguments.
#[derive(Clone, Debug, clap::Args)]
pub struct RunnerArgs {
    /// Kafka bootstrap servers (other KAFKA_* variables become librdkafka properties:
    /// TLS, SASL).
    #[arg(
        long,
        env = "KAFKA_BOOTSTRAP_SERVERS",
        default_value = "127.0.0.1:9092"
    )]
    pub bootstrap: String,
    /// This connector's name in acknowledgements (default: <system>-connector).
    #[arg(long, env = "CONNECTOR_NAME")]
    pub name: Option<String>,
    /// The ledger file that remembers finished commands (default:
    /// tenure-connector-<system>.ledger).
    #[arg(long, env = "CONNECTOR_LEDGER")]
    pub ledger: Option<PathBuf>,
    /// "shared" (tenure.commands.v1 and tenure.outcomes.v1) or "per-system"
    /// (tenure.commands.v1.<system> and tenure.outcomes.v1.<system>), as Tenure runs.
    #[arg(long, env = "TENURE_COMMAND_TOPICS", default_value = "shared")]
    pub command_topics: CommandTopics,
    /// Longest one command may take, in seconds.
    #[arg(long, env = "COMMAND_TIMEOUT_SECS", default_value_t = 30)]
    pub command_timeout_secs: u64,
    /// Serve `/metrics` here.
    #[arg(long, env = "METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Also list the target for reconciliation every this many seconds (besides
    /// when `tenure reconcile` asks); 0: only when asked.
    #[arg(long, env = "RECONCILE_EVERY_SECS", default_value_t = 0)]
    pub reconcile_every_secs: u64,
}

impl RunnerArgs {
    /// The runner's configuration for a connector of `system`.
    pub fn config(&self, system: &str) -> RunnerConfig {
        let name = self
            .name
            .clone()
            .unwrap_or_else(|| format!("{system}-connector"));
        let ledger = self
            .ledger
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("tenure-connector-{system}.ledger")));
        let mut config = RunnerConfig::new(&self.bootstrap, system, &name, ledger);
        if self.command_topics == CommandTopics::PerSystem {
            config = config.per_system_topics();
        }
        config.command_timeout = Duration::from_secs(self.command_timeout_secs.max(1));
        config.metrics_listen = self.metrics_listen;
        config.reconcile_every =
            (self.reconcile_every_secs > 0).then(|| Duration::from_secs(self.reconcile_every_secs));
        config
    }
}

/// Logs to standard error, filtered by `RUST_LOG` (default `info`), as text or JSON
/// lines (`TENURE_LOG_FORMAT`).
pub fn init_logging() {
    crate::logging::init("RUST_LOG", "info");
}

/// Runs `connector` until SIGINT or SIGTERM, then stops after the command in hand.
pub async fn run_until_signalled<C: Connector>(
    connector: C,
    config: RunnerConfig,
) -> Result<RunSummary, RunnerError> {
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
        let _ = stop.send(true);
    });
    crate::run(connector, config, Metrics::default(), shutdown).await
}
