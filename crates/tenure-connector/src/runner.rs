//! The loop every connector shares: consume its system's commands, answer each once,
//! acknowledge, commit, and stop between commands when asked.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use tenure_core::{Command, CommandStatus};
use tenure_kafka::{KafkaAdapterError, Publisher, headers, topics};
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::connector::{Applied, Connector, ConnectorError};
use crate::ledger::{Ledger, LedgerError};
use crate::metrics::Metrics;
use crate::outcome;

/// Where a connector reads, writes and remembers, and how long a command may take.
#[derive(Clone, Debug)]
pub struct RunnerConfig {
    /// Kafka bootstrap servers; `KAFKA_*` variables and `TENURE_KAFKA_PROPERTIES`
    /// add TLS and SASL settings as for Tenure's own services.
    pub bootstrap: String,
    /// The target system whose commands this connector executes (`postgres`).
    pub system: String,
    /// This connector's name, recorded with every acknowledgement.
    pub connector: String,
    /// Consumer group; connectors of one system share it to share the work.
    pub group_id: String,
    /// `tenure.commands.v1`, or the system's own topic when commands are per system.
    pub commands_topic: String,
    pub outcomes_topic: String,
    /// The ledger file that remembers finished commands across restarts.
    pub ledger: PathBuf,
    /// Longest a command may run; past it the command is reported as a retryable
    /// failure and Tenure publishes it again later.
    pub command_timeout: Duration,
    /// Where to serve `/metrics`, if anywhere.
    pub metrics_listen: Option<SocketAddr>,
    /// List the target for reconciliation this often, besides when Tenure asks
    /// (`tenure reconcile`); `None`: only when asked.
    pub reconcile_every: Option<Duration>,
}

impl RunnerConfig {
    /// The usual settings for a connector of `system` named `connector`.
    pub fn new(bootstrap: &str, system: &str, connector: &str, ledger: PathBuf) -> Self {
        RunnerConfig {
            bootstrap: bootstrap.to_owned(),
            system: system.to_owned(),
            connector: connector.to_owned(),
            group_id: format!("tenure-connector-{system}"),
            commands_topic: topics::COMMANDS.to_owned(),
            outcomes_topic: topics::OUTCOMES.to_owned(),
            ledger,
            command_timeout: Duration::from_secs(30),
            metrics_listen: None,
            reconcile_every: None,
        }
    }

    /// Reads and answers on the system's own topics (`tenure.commands.v1.<system>`,
    /// `tenure.outcomes.v1.<system>`), for a Tenure run with per-system command
    /// topics, where Kafka ACLs can keep this connector to them.
    pub fn per_system_topics(mut self) -> Self {
        let safe = topics::topic_safe(&self.system);
        self.commands_topic = format!("{}{safe}", topics::COMMANDS_PREFIX);
        self.outcomes_topic = format!("{}{safe}", topics::OUTCOMES_PREFIX);
        self
    }
}

/// Why the runner stopped before it was asked to; restart the connector once the
/// cause is fixed (the ledger and the committed offsets make that safe).
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("the connector's Kafka client failed: {0}")]
    Kafka(#[from] KafkaAdapterError),
    #[error("the connector's Kafka consumer failed: {0}")]
    Consumer(#[from] rdkafka::error::KafkaError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("the metrics listener failed: {0}")]
    Metrics(#[from] std::io::Error),
}

/// What a run did, for logs and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Commands executed against the target (including failures).
    pub executed: u64,
    /// Redeliveries answered from the ledger without executing.
    pub duplicates: u64,
    /// Messages for other systems.
    pub skipped: u64,
    /// Reconciliation passes asked for by Tenure.
    pub reconciliations: u64,
}

/// Runs `connector` until `shutdown` turns true, then returns after the command in
/// hand is acknowledged and committed.
pub async fn run<C: Connector>(
    connector: C,
    config: RunnerConfig,
    metrics: Metrics,
    mut shutdown: watch::Receiver<bool>,
) -> Result<RunSummary, RunnerError> {
    let ledger = Ledger::open(&config.ledger)?;
    let consumer: StreamConsumer = tenure_kafka::client_config(&config.bootstrap)
        .set("group.id", &config.group_id)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "25")
        .create()?;
    consumer.subscribe(&[&config.commands_topic])?;
    let publisher = Publisher::new(&config.bootstrap)?;
    let server = config.metrics_listen.map(|listen| {
        tokio::spawn(
            metrics
                .clone()
                .serve(listen, config.system.clone(), shutdown.clone()),
        )
    });
    info!(system = %config.system, connector = %config.connector,
          topic = %config.commands_topic, "connector started");
    let mut summary = RunSummary::default();
    let mut schedule = config.reconcile_every.map(|every| {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks
    });
    loop {
        // The branches only pick what comes next; the work happens outside select!,
        // which keeps every branch's future alive until its arm finishes.
        let next = tokio::select! {
            m = consumer.recv() => Some(m?),
            _ = shutdown.wait_for(|s| *s) => break,
            _ = async { schedule.as_mut()?.tick().await; Some(()) }, if schedule.is_some() => None,
        };
        let Some(message) = next else {
            if let Some(ack) = observe(&connector, &config, &metrics, None).await {
                acknowledge(&publisher, &config, &ack).await?;
            }
            continue;
        };
        let (step, ack) = handle(&connector, &config, &ledger, &metrics, &message).await?;
        match step {
            Step::Executed => summary.executed += 1,
            Step::Duplicate => summary.duplicates += 1,
            Step::Skipped => summary.skipped += 1,
            Step::Reconciled => summary.reconciliations += 1,
            Step::Undecodable => {}
        }
        if let Some(ack) = ack {
            acknowledge(&publisher, &config, &ack).await?;
        }
        consumer.commit_message(&message, CommitMode::Async)?;
    }
    if let Some(server) = server {
        server.abort();
    }
    info!(?summary, "connector stopped");
    Ok(summary)
}

/// What handling one message came to.
enum Step {
    Executed,
    Reconciled,
    Duplicate,
    Skipped,
    Undecodable,
}

/// An acknowledgement ready to publish: the identity (its key) and the payload.
struct Ack {
    /// The message key: the identity (an outcome) or the system (an observation).
    identity: String,
    /// The CloudEvents type of what is published.
    ce_type: &'static str,
    payload: Vec<u8>,
}

/// Reads one message and, if it is a command for this system, answers it: from the
/// ledger when it was finished before, by executing it otherwise.
async fn handle<C: Connector>(
    connector: &C,
    config: &RunnerConfig,
    ledger: &Ledger,
    metrics: &Metrics,
    message: &BorrowedMessage<'_>,
) -> Result<(Step, Option<Ack>), RunnerError> {
    // On the shared topic every system's commands pass by; only ours are read.
    if header(message, headers::TARGET_SYSTEM) != Some(config.system.as_str()) {
        metrics.skipped();
        return Ok((Step::Skipped, None));
    }
    let ce_type = header(message, headers::CE_TYPE).unwrap_or_default();
    if ce_type == tenure_proto::reconcile::RECONCILE_CE_TYPE {
        let request = tenure_proto::reconcile::decode_reconciliation_request(
            message.payload().unwrap_or_default(),
        );
        return Ok(match request {
            Ok((request_id, _)) => (
                Step::Reconciled,
                observe(connector, config, metrics, Some(request_id)).await,
            ),
            Err(e) => {
                metrics.undecodable();
                error!(error = %e, "a reconciliation request this connector cannot read");
                (Step::Undecodable, None)
            }
        });
    }
    let command = match tenure_proto::decode_command(ce_type, message.payload().unwrap_or_default())
    {
        Ok((command, _issued)) => command,
        Err(e) => {
            // Without readable ids there is nothing to acknowledge: Tenure's tracking
            // republishes and then escalates the command, so a person sees it.
            metrics.undecodable();
            error!(error = %e, ce_type, offset = message.offset(), partition = message.partition(),
                   "a message on the commands topic is not a command this connector can read");
            return Ok((Step::Undecodable, None));
        }
    };
    let identity = command.identity_id().to_string();
    let id = command.command_id().to_string();
    let delivery = ledger.delivered(&id).await?;
    if let Some(payload) = delivery.finished {
        metrics.duplicate();
        return Ok((
            Step::Duplicate,
            Some(Ack {
                identity,
                ce_type: outcome::OUTCOME_CE_TYPE,
                payload,
            }),
        ));
    }
    let result = if command.target_system() != config.system {
        Err(ConnectorError::Permanent(format!(
            "the command's entitlement is for system {:?}, but its header said {:?}",
            command.target_system(),
            config.system
        )))
    } else {
        match tokio::time::timeout(config.command_timeout, execute(connector, &command)).await {
            Ok(result) => result,
            Err(_) => {
                metrics.timeout();
                Err(ConnectorError::Retryable(format!(
                    "no answer from the target within {:?}",
                    config.command_timeout
                )))
            }
        }
    };
    let (status, detail) = match &result {
        Ok(applied) => (applied.status(), applied.detail().to_owned()),
        Err(e) => (e.status(), e.to_string()),
    };
    if status != CommandStatus::Done && status != CommandStatus::AlreadyAbsent {
        warn!(command = %id, status = status.as_str(), %detail, "command failed");
    }
    let payload = outcome::encode(
        &command,
        status,
        &detail,
        &config.connector,
        delivery.attempt,
        chrono::Utc::now(),
    );
    // A retryable failure is not finished: the next delivery executes it again.
    if status != CommandStatus::FailedRetryable {
        ledger.finish(&id, status.as_str(), payload.clone()).await?;
    }
    metrics.outcome(command.command_type(), status);
    Ok((
        Step::Executed,
        Some(Ack {
            identity,
            ce_type: outcome::OUTCOME_CE_TYPE,
            payload,
        }),
    ))
}

/// Lists what the target holds and makes it an observation for Tenure to compare
/// with its grants; `None` when the listing failed (logged and counted: Tenure
/// keeps its last findings, and the next pass tries again). A request's
/// observation id is derived from the request, so a redelivered request yields the
/// same findings.
async fn observe<C: Connector>(
    connector: &C,
    config: &RunnerConfig,
    metrics: &Metrics,
    request: Option<uuid::Uuid>,
) -> Option<Ack> {
    let listed = tokio::time::timeout(config.command_timeout, connector.list()).await;
    let held = match listed {
        Ok(Ok(held)) => held,
        Ok(Err(e)) => {
            metrics.reconciliation_failed();
            error!(error = %e, "listing the target for reconciliation failed");
            return None;
        }
        Err(_) => {
            metrics.reconciliation_failed();
            error!(timeout = ?config.command_timeout, "listing the target for reconciliation timed out");
            return None;
        }
    };
    let observation_id = match request {
        Some(id) => uuid::Uuid::new_v5(&id, config.connector.as_bytes()),
        None => uuid::Uuid::new_v4(),
    };
    metrics.reconciled(held.len());
    info!(system = %config.system, held = held.len(), %observation_id, "target listed for reconciliation");
    let observation = tenure_core::reconcile::Observation {
        observation_id,
        system: config.system.clone(),
        connector: config.connector.clone(),
        observed_at: chrono::Utc::now(),
        held,
    };
    Some(Ack {
        identity: config.system.clone(),
        ce_type: tenure_proto::reconcile::OBSERVATION_CE_TYPE,
        payload: tenure_proto::reconcile::encode_observation(&observation),
    })
}

/// Runs the trait method for `command`'s type.
async fn execute<C: Connector>(
    connector: &C,
    command: &Command,
) -> Result<Applied, ConnectorError> {
    match command {
        Command::Grant(c) => connector.grant(c).await,
        Command::Revoke(c) => connector.revoke(c).await,
        Command::Suspend(c) => connector.suspend(c).await,
        Command::Restore(c) => connector.restore(c).await,
        Command::Rotate(c) => connector.rotate(c).await,
    }
}

/// Publishes `ack` and waits for the broker; keeps trying while the broker is away,
/// because an acknowledgement lost here would leave the command to be escalated.
async fn acknowledge(
    publisher: &Publisher,
    config: &RunnerConfig,
    ack: &Ack,
) -> Result<(), RunnerError> {
    let hs = outcome::headers(
        &config.connector,
        ack.ce_type,
        &ack.identity,
        chrono::Utc::now(),
    );
    let mut wait = Duration::from_millis(100);
    loop {
        match publisher
            .send(&config.outcomes_topic, &ack.identity, &ack.payload, &hs)
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) => {
                warn!(error = %e, "acknowledgement not delivered; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}

fn header<'a>(message: &'a BorrowedMessage<'_>, name: &str) -> Option<&'a str> {
    message
        .headers()?
        .iter()
        .find(|h| h.key == name)
        .and_then(|h| h.value)
        .and_then(|v| std::str::from_utf8(v).ok())
}
