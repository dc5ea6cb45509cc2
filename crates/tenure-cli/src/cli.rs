//! Command-line arguments and what each subcommand does.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use tenure_kafka::topics;
use tenure_store::Database;
use tokio::task::JoinSet;

use crate::{bench, demo, services, shutdown};

/// Tenure turns HR and ITSM lifecycle events into governed grants and confirmed
/// revocations: joiners get their birthright access, movers lose the old role's,
/// leavers lose everything, and expired access is taken away on time.
#[derive(Debug, Parser)]
#[command(name = "tenure", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(flatten)]
    pub retry: RetryArgs,
    #[command(flatten)]
    pub brake: BrakeArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Where Tenure's state and log live.
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// PostgreSQL URL; the services and `migrate` create and migrate the database if
    /// needed, read-only commands (audit, report, simulate, brake, dead-letters) never.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/tenure",
        global = true
    )]
    pub database_url: String,
    /// Kafka bootstrap servers (host:port,...). `run` and `demo` start an embedded
    /// tansu broker when this is not given.
    #[arg(long, env = "KAFKA_BOOTSTRAP_SERVERS", global = true)]
    pub bootstrap: Option<String>,
    /// Replicas of each topic Tenure creates (`topics`, and the per-system command
    /// topics the relay creates): 1 suits a single broker such as the embedded one; a
    /// production Kafka cluster wants 3.
    #[arg(
        long,
        env = "TENURE_TOPIC_REPLICATION_FACTOR",
        default_value_t = 1,
        global = true
    )]
    pub topic_replication_factor: i32,
    /// Governance policy file (TOML: roles and their birthright access). Defaults to
    /// the built-in copy of deploy/policy.toml.
    #[arg(long, env = "TENURE_POLICY", global = true)]
    pub policy: Option<PathBuf>,
    /// Ingest credentials file (TOML `[[credential]]` entries: name, token, scopes from
    /// hr / itsm / connector). Without it ingest accepts unauthenticated requests.
    #[arg(long, env = "TENURE_CREDENTIALS", global = true)]
    pub credentials: Option<PathBuf>,
    /// Serve /metrics, /healthz and /readyz on this address too, without credentials,
    /// for a Prometheus on an internal network; /metrics then leaves the main listener.
    /// Without it /metrics is on the main listener behind the reader scope.
    #[arg(long, env = "TENURE_ADMIN_LISTEN", global = true)]
    pub admin_listen: Option<SocketAddr>,
    /// The broker behind --bootstrap: `kafka` (no workarounds) or `tansu` (its
    /// workarounds on: see crates/tenure-kafka/src/flavour.rs). The embedded broker is tansu.
    #[arg(long, env = "TENURE_BROKER_KIND", global = true)]
    pub broker_kind: Option<tenure_kafka::BrokerKind>,
    /// Seconds ingest waits for the broker to acknowledge a request's events before
    /// answering 503 (the request may be resent).
    #[arg(
        long,
        env = "TENURE_INGEST_TIMEOUT_SECS",
        default_value_t = 5,
        global = true
    )]
    pub ingest_timeout_secs: u64,
    /// Where the reactor publishes connector commands: "shared" (every system on
    /// tenure.commands.v1) or "per-system" (tenure.commands.v1.<system>, answered on
    /// tenure.outcomes.v1.<system>, so Kafka ACLs can keep each connector to its own).
    #[arg(
        long,
        env = "TENURE_COMMAND_TOPICS",
        default_value = "shared",
        global = true
    )]
    pub command_topics: tenure_kafka::topics::CommandTopics,
}

/// When the reactor's safety brake holds revocations back.
#[derive(Debug, Args)]
pub struct BrakeArgs {
    /// Share of all active grants that may be revoked within the window before further
    /// revocations are held for an operator (`tenure brake release`).
    #[arg(long, env = "TENURE_BRAKE_SHARE", default_value_t = 0.2, global = true)]
    pub brake_share: f64,
    /// The brake's counting window, in seconds of trigger time.
    #[arg(
        long,
        env = "TENURE_BRAKE_WINDOW_SECS",
        default_value_t = 3600,
        global = true
    )]
    pub brake_window_secs: u64,
    /// Revocations always allowed per window, however small the organisation.
    #[arg(
        long,
        env = "TENURE_BRAKE_MINIMUM",
        default_value_t = 100,
        global = true
    )]
    pub brake_minimum: i64,
    /// Hold leavers' revocations too (by default they are never held).
    #[arg(long, env = "TENURE_BRAKE_HOLDS_LEAVERS", global = true)]
    pub brake_holds_leavers: bool,
}

impl BrakeArgs {
    /// The reactor's brake policy.
    pub fn policy(&self) -> tenure_reactor::BrakePolicy {
        tenure_reactor::BrakePolicy {
            share: self.brake_share.clamp(0.0, 1.0),
            window: std::time::Duration::from_secs(self.brake_window_secs.max(1)),
            minimum: self.brake_minimum.max(0),
            hold_leavers: self.brake_holds_leavers,
        }
    }
}

/// How the reactor chases unacknowledged revocation commands.
#[derive(Debug, Args)]
pub struct RetryArgs {
    /// Seconds a connector has to acknowledge a revocation before it is published
    /// again with the same id (doubling each time, at most an hour).
    #[arg(
        long,
        env = "TENURE_ACK_TIMEOUT_SECS",
        default_value_t = 300,
        global = true
    )]
    pub ack_timeout_secs: u64,
    /// Publications of an unacknowledged revocation before it is escalated.
    #[arg(long, env = "TENURE_MAX_ATTEMPTS", default_value_t = 5, global = true)]
    pub max_attempts: u32,
}

impl RetryArgs {
    /// The reactor's retry policy.
    pub fn policy(&self) -> tenure_reactor::RetryPolicy {
        tenure_reactor::RetryPolicy {
            ack_timeout: std::time::Duration::from_secs(self.ack_timeout_secs.max(1)),
            max_attempts: self.max_attempts.max(1),
        }
    }
}

/// What `tenure` can do; each variant's doc is its `--help` text.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole pipeline on a small built-in organisation and print what was
    /// granted, what was revoked and why, and how long each revocation took.
    Demo(DemoArgs),
    /// Measure Tenure's speeds beside the raw limits of the same broker and PostgreSQL,
    /// print one table and write it as JSON.
    Bench(BenchArgs),
    /// Run ingest, projector, reactor, outbox relay and scheduler in one process.
    Run(RunArgs),
    /// Run only the ingest HTTP API (needs --bootstrap).
    Ingest(ListenArgs),
    /// Run only the projector (needs --bootstrap); with --listen, also its query API.
    Projector(OptionalListenArgs),
    /// Run only the reactor with its outbox relay and deadline scheduler (needs --bootstrap);
    /// with --listen, also a health endpoint.
    Reactor(OptionalListenArgs),
    /// Run the embedded tansu broker in the foreground and create Tenure's topics.
    Broker(BrokerArgs),
    /// Generate a synthetic organisation's history: NDJSON for the HTTP API and raw
    /// topics, or the lifecycle log itself.
    Gen(crate::generate::GenArgs),
    /// Rebuild the projection from the log into a fresh schema, verify it against the
    /// live projection by checksum, and optionally switch the live API to it.
    Replay(crate::replay::ReplayArgs),
    /// Print lifecycle events from the log as JSON lines (show: what is there now;
    /// tail: and then follow), filtered by offset, time, identity or type.
    Events {
        #[command(subcommand)]
        action: crate::events::EventsAction,
    },
    /// One identity's full timeline for auditors: every event, grant and revocation
    /// with its cause, command id and acknowledgement (table, JSON or CSV).
    Audit(crate::audit::AuditArgs),
    /// One identity's governance picture (grants, expiries, revocations and their
    /// time to revoke, owned non-human identities) as text or JSON.
    Report(crate::audit::ReportArgs),
    /// Run the reactor's rules under the candidate policy given by --policy over the
    /// recorded history, emitting nothing, and report what would have been revoked or
    /// granted differently.
    Simulate(crate::simulate::SimulateArgs),
    /// Create the database if needed, apply schema migrations, and exit.
    Migrate,
    /// Records a consumer parked because they cannot be processed: list them, or send
    /// them back to their topic after a fix.
    DeadLetters {
        #[command(subcommand)]
        action: crate::dead_letters::DeadLetterAction,
    },
    /// Show the safety brake's held revocations, or release them for publication.
    Brake {
        #[command(subcommand)]
        action: BrakeAction,
    },
    /// Ask a system's connector to list what its target holds, so Tenure can compare
    /// it with its grants: access given out of band, revocations that did not stick,
    /// grants missing from the target. Example: tenure reconcile --system postgres
    Reconcile(crate::reconcile::ReconcileArgs),
    /// Create Tenure's topics on the broker given by --bootstrap, if missing.
    /// Example: tenure topics --partitions 12 --replication-factor 3
    Topics {
        /// Partitions per topic: the most instances of one consumer (projector,
        /// reactor) that can share the work.
        #[arg(long, env = "TENURE_TOPIC_PARTITIONS", default_value_t = topics::DEFAULT_PARTITIONS)]
        partitions: i32,
    },
}

/// What an operator does with the safety brake.
#[derive(Debug, Subcommand)]
pub enum BrakeAction {
    /// Print what the brake holds, as JSON.
    Status,
    /// Release every held revocation for publication; the release is recorded on
    /// the log with who released it and why.
    Release {
        /// Who releases the brake (recorded on the log); defaults to the login name.
        #[arg(long, env = "USER")]
        actor: String,
        /// Why the held revocations may go out (recorded on the log).
        #[arg(long)]
        reason: String,
    },
}

/// Where a service that must serve HTTP listens.
#[derive(Debug, Args)]
pub struct ListenArgs {
    /// Address the ingest API listens on.
    #[arg(long, env = "TENURE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
}

/// Where a service serves its optional HTTP API.
#[derive(Debug, Args)]
pub struct OptionalListenArgs {
    /// Address to serve the HTTP API on (the projector's query API and dashboard, the
    /// reactor's brake API, /healthz and /readyz); none by default.
    #[arg(long, env = "TENURE_LISTEN")]
    pub listen: Option<SocketAddr>,
}

/// How the embedded broker stores the log.
#[derive(Debug, Args)]
pub struct BrokerArgs {
    /// tansu storage: `sqlite://FILE` keeps the log across restarts (the log is the
    /// source of truth); `memory://tansu/` is faster and forgets on exit.
    #[arg(
        long,
        env = "TENURE_BROKER_STORAGE",
        default_value = "sqlite://.tenure/broker.db"
    )]
    pub storage: String,
    /// TCP port of the embedded broker; 0 picks a free one.
    #[arg(long, env = "TENURE_BROKER_PORT", default_value_t = 0)]
    pub broker_port: u16,
}

/// Options of `tenure run`, the whole pipeline in one process.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub listen: ListenArgs,
    #[command(flatten)]
    pub broker: BrokerArgs,
}

/// Options of `tenure bench`: how large a run, and where the report goes.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// A small run (about 14,000 events) that finishes in well under five minutes.
    #[arg(long)]
    pub quick: bool,
    /// People in the synthetic organisation (about seven events each); overrides --quick.
    #[arg(long)]
    pub people: Option<usize>,
    /// tansu storage for the bench's own broker: `memory://tansu/`, or the durable
    /// `sqlite://FILE` (FILE is emptied at every run).
    #[arg(long, default_value = "memory://tansu/")]
    pub storage: String,
    /// Where to write the JSON report.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Options of `tenure demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Database for the demo, on the server of DATABASE_URL; dropped and recreated
    /// at every run so each demo starts clean.
    #[arg(long, default_value = "tenure_demo")]
    pub database: String,
    /// tansu storage for the demo's embedded broker (a fresh file per run by default).
    #[arg(long)]
    pub storage: Option<String>,
    /// Seconds after which the demo's time-limited access expires.
    #[arg(long, default_value_t = 6)]
    pub expiry_seconds: u64,
    /// Print the report as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

fn require_bootstrap(connect: &ConnectArgs) -> anyhow::Result<String> {
    connect
        .bootstrap
        .clone()
        .context("--bootstrap (or KAFKA_BOOTSTRAP_SERVERS) is required; `tenure run` starts an embedded broker instead")
}

fn ensure_parent_dir(storage: &str) -> anyhow::Result<()> {
    if let Some(path) = storage.strip_prefix("sqlite://")
        && let Some(parent) = std::path::Path::new(path)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    Ok(())
}

/// Runs the parsed command.
pub async fn execute(cli: Cli) -> anyhow::Result<()> {
    let connect = cli.connect;
    if let Some(kind) = connect.broker_kind {
        tenure_kafka::flavour::declare(kind);
    }
    topics::declare_replication_factor(connect.topic_replication_factor);
    tenure_kafka::connection::load_passthrough().map_err(anyhow::Error::msg)?;
    let retry = cli.retry.policy();
    let brake = cli.brake.policy();
    let credentials = services::load_credentials(connect.credentials.as_deref()).await?;
    match cli.command {
        Command::Demo(args) => demo::run(&connect, retry, brake, args).await,
        Command::Bench(args) => bench::run(&connect, args).await,
        Command::Events { action } => {
            let bootstrap = require_bootstrap(&connect)?;
            crate::events::run(bootstrap, action).await
        }
        Command::Audit(args) => crate::audit::run_audit(&connect.database_url, args).await,
        Command::Report(args) => crate::audit::run_report(&connect.database_url, args).await,
        Command::Simulate(args) => {
            let candidate = connect
                .policy
                .as_deref()
                .context("simulate needs the candidate policy: --policy FILE")?;
            let candidate = services::load_policy(Some(candidate))?;
            crate::simulate::run(&connect.database_url, &candidate, args).await
        }
        Command::Gen(args) => crate::generate::run(connect.bootstrap.clone(), args).await,
        Command::Replay(args) => {
            let bootstrap = require_bootstrap(&connect)?;
            crate::replay::run(&connect.database_url, &bootstrap, args).await
        }
        Command::DeadLetters { action } => {
            crate::dead_letters::run(&connect.database_url, connect.bootstrap.clone(), action).await
        }
        Command::Brake { action } => {
            let db = Database::open_existing(&connect.database_url).await?;
            let mut client = db.client().await?;
            let client: &mut tokio_postgres::Client = &mut client;
            match action {
                BrakeAction::Status => {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(
                            &tenure_reactor::brake::status(&*client).await?
                        )?
                    );
                }
                BrakeAction::Release { actor, reason } => {
                    let release = tenure_reactor::brake::Release { actor, reason };
                    let released = tenure_reactor::brake::release(client, &retry, &release).await?;
                    println!("released {released} held revocation(s) for publication");
                }
            }
            Ok(())
        }
        Command::Migrate => {
            let db = Database::connect(&connect.database_url).await?;
            println!("database {} is migrated to the latest schema", db.name());
            Ok(())
        }
        Command::Reconcile(args) => {
            let bootstrap = require_bootstrap(&connect)?;
            crate::reconcile::run(&bootstrap, connect.command_topics, args).await
        }
        Command::Topics { partitions } => {
            let bootstrap = require_bootstrap(&connect)?;
            topics::ensure_topics(&bootstrap, partitions).await?;
            println!("topics ready on {bootstrap}");
            Ok(())
        }
        Command::Broker(args) => {
            ensure_parent_dir(&args.storage)?;
            let broker =
                services::start_embedded_broker(&args.storage, args.broker_port, None).await?;
            println!(
                "broker ready: --bootstrap {} (storage {})",
                broker.bootstrap(),
                args.storage
            );
            let (stop, mut stopped) = shutdown::channel();
            shutdown::on_signals(stop);
            let _ = stopped.wait_for(|s| *s).await;
            broker.stop().await;
            Ok(())
        }
        Command::Run(args) => {
            let policy = services::load_policy(connect.policy.as_deref())?;
            let db = Database::connect(&connect.database_url).await?;
            let (broker, bootstrap) = match &connect.bootstrap {
                Some(b) => (None, b.clone()),
                None => {
                    ensure_parent_dir(&args.broker.storage)?;
                    let broker = services::start_embedded_broker(
                        &args.broker.storage,
                        args.broker.broker_port,
                        None,
                    )
                    .await?;
                    let bootstrap = broker.bootstrap().to_owned();
                    (Some(broker), bootstrap)
                }
            };
            run_selection(
                services::Selection::all(),
                &bootstrap,
                db,
                services::Rules {
                    policy,
                    retry,
                    brake,
                    credentials: credentials.clone(),
                    check_owners: true,
                    ingest_timeout: std::time::Duration::from_secs(connect.ingest_timeout_secs),
                    admin_listen: connect.admin_listen,
                    command_topics: connect.command_topics,
                },
                Some(args.listen.listen),
            )
            .await?;
            if let Some(broker) = broker {
                broker.stop().await;
            }
            Ok(())
        }
        Command::Ingest(_) | Command::Projector(_) | Command::Reactor(_) => {
            let bootstrap = require_bootstrap(&connect)?;
            let (selection, listen) = match cli.command {
                Command::Ingest(args) => (
                    services::Selection {
                        ingest: true,
                        ..Default::default()
                    },
                    Some(args.listen),
                ),
                Command::Projector(args) => (
                    services::Selection {
                        projector: true,
                        ..Default::default()
                    },
                    args.listen,
                ),
                Command::Reactor(args) => (
                    services::Selection {
                        reactor: true,
                        ..Default::default()
                    },
                    args.listen,
                ),
                _ => unreachable!("matched above"),
            };
            let db = Database::connect(&connect.database_url).await?;
            let policy = services::load_policy(connect.policy.as_deref())?;
            let rules = services::Rules {
                policy,
                retry,
                brake,
                credentials,
                check_owners: true,
                ingest_timeout: std::time::Duration::from_secs(connect.ingest_timeout_secs),
                admin_listen: connect.admin_listen,
                command_topics: connect.command_topics,
            };
            run_selection(selection, &bootstrap, db, rules, listen).await
        }
    }
}

async fn run_selection(
    selection: services::Selection,
    bootstrap: &str,
    db: Database,
    rules: services::Rules,
    listen: Option<SocketAddr>,
) -> anyhow::Result<()> {
    let (stop, stopped) = shutdown::channel();
    shutdown::on_signals(stop.clone());
    let mut tasks = JoinSet::new();
    if let Some(addr) = services::spawn(
        &mut tasks, selection, bootstrap, &db, rules, listen, &stopped,
    )
    .await?
    {
        println!("HTTP API on http://{addr} (OpenAPI document at /openapi.json)");
    }
    services::supervise(tasks, &stop).await
}
