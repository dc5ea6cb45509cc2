//! Starting Tenure's services as tasks of one process, or one at a time.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use tenure_core::Policy;
use tenure_kafka::{BrokerOptions, EmbeddedBroker, Publisher, broker, topics};
use tenure_store::Database;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// The built-in policy, used when no `--policy` file is given.
pub const DEFAULT_POLICY: &str = include_str!("../../../deploy/policy.toml");

/// Reads the policy file, or the built-in one.
pub fn load_policy(path: Option<&Path>) -> anyhow::Result<Policy> {
    let text = match path {
        Some(p) => std::fs::read_to_string(p)
            .with_context(|| format!("cannot read policy file {}", p.display()))?,
        None => DEFAULT_POLICY.to_owned(),
    };
    Policy::from_toml(&text).with_context(|| match path {
        Some(p) => format!("policy file {} is invalid", p.display()),
        None => "built-in policy is invalid".to_owned(),
    })
}

/// Starts the embedded broker with `storage` and creates Tenure's topics.
pub async fn start_embedded_broker(
    storage: &str,
    log_file: Option<PathBuf>,
) -> anyhow::Result<EmbeddedBroker> {
    let binary = broker::locate_tansu()?;
    let broker = EmbeddedBroker::start(BrokerOptions {
        binary,
        port: 0,
        storage: storage.to_owned(),
        log_file,
    })
    .await?;
    topics::ensure_topics(broker.bootstrap(), topics::DEFAULT_PARTITIONS).await?;
    Ok(broker)
}

/// Which services a process runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Selection {
    pub ingest: bool,
    pub projector: bool,
    pub reactor: bool,
}

impl Selection {
    /// Everything in one process.
    pub fn all() -> Self {
        Selection {
            ingest: true,
            projector: true,
            reactor: true,
        }
    }
}

/// Spawns the selected services; each task ends with its name and result.
pub async fn spawn(
    tasks: &mut JoinSet<(&'static str, anyhow::Result<()>)>,
    selection: Selection,
    bootstrap: &str,
    db: &Database,
    policy: Policy,
    listen: SocketAddr,
    shutdown: &watch::Receiver<bool>,
) -> anyhow::Result<Option<SocketAddr>> {
    let mut bound = None;
    let publisher = Publisher::new(bootstrap)?;
    if selection.ingest {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        bound = Some(listener.local_addr()?);
        let state = tenure_ingest::IngestState::new(publisher.clone());
        let stop = shutdown.clone();
        tasks.spawn(async move {
            (
                "ingest",
                tenure_ingest::serve(listener, state, stop)
                    .await
                    .map_err(Into::into),
            )
        });
    }
    if selection.projector {
        let (bootstrap, db, stop) = (bootstrap.to_owned(), db.clone(), shutdown.clone());
        tasks.spawn(async move {
            (
                "projector",
                tenure_projector::run(&bootstrap, db, stop)
                    .await
                    .map_err(Into::into),
            )
        });
    }
    if selection.reactor {
        let (bootstrap, reactor_db, stop) = (bootstrap.to_owned(), db.clone(), shutdown.clone());
        tasks.spawn(async move {
            (
                "reactor",
                tenure_reactor::run(&bootstrap, reactor_db, policy, stop)
                    .await
                    .map_err(Into::into),
            )
        });
        let (relay_db, relay_publisher, stop) = (db.clone(), publisher.clone(), shutdown.clone());
        tasks.spawn(async move {
            (
                "relay",
                tenure_reactor::relay::run(relay_db, relay_publisher, stop)
                    .await
                    .map_err(Into::into),
            )
        });
        let (scheduler_db, stop) = (db.clone(), shutdown.clone());
        tasks.spawn(async move {
            let tick = Duration::from_millis(200);
            (
                "scheduler",
                tenure_reactor::scheduler::run(scheduler_db, publisher, tick, stop)
                    .await
                    .map_err(Into::into),
            )
        });
    }
    Ok(bound)
}

/// Waits for the tasks; the first one to fail stops the rest.
pub async fn supervise(
    mut tasks: JoinSet<(&'static str, anyhow::Result<()>)>,
    stop: &watch::Sender<bool>,
) -> anyhow::Result<()> {
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        let (name, result) = joined.context("a service task panicked")?;
        match result {
            Ok(()) => tracing::info!(service = name, "stopped"),
            Err(e) => {
                tracing::error!(service = name, error = %e, "failed; stopping the others");
                let _ = stop.send(true);
                first_error.get_or_insert(e.context(format!("{name} failed")));
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}
