//! `tenure-connector-scim`: runs the SCIM provisioning connector until interrupted.

use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use tenure_connector::RunnerArgs;
use tenure_connector_scim::{ScimConnector, ScimSettings};

/// Executes Tenure's commands on a SCIM 2.0 service provider (entitlements
/// `<system>:<group displayName>:member`) and acknowledges them.
#[derive(Parser)]
#[command(version, about)]
struct Args {
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
    /// Longest one HTTP request to the service provider may take, in seconds.
    #[arg(long, default_value_t = 10)]
    request_timeout_secs: u64,
    #[command(flatten)]
    runner: RunnerArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tenure_connector::init_logging();
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
    tenure_connector::run_until_signalled(connector, args.runner.config(&args.system)).await?;
    Ok(())
}
