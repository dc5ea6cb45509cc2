//! Command-line arguments and what each subcommand does.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use tenure_kafka::topics;
use tenure_store::Database;
use tokio::task::JoinSet;

pub use crate::settings::ConnectArgs;
use crate::settings::{
    BrakeArgs, BrokerArg, CommandTopicsArg, Configure, DatabaseArg, IngestTimeoutArg, PolicyArg,
    ReplicationArg, RetryArgs, ServeArgs, Settings, subcommand_options,
};
use crate::{bench, demo, services, shutdown};

/// Tenure turns HR and ITSM lifecycle events into governed grants and confirmed
/// revocations: joiners get their birthright access, movers lose the old role's,
/// leavers lose everything, and expired access is taken away on time.
#[derive(Debug, Parser)]
#[command(name = "tenure", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

subcommand_options!(
    /// Options of `tenure demo`.
    DemoOptions { database: DatabaseArg, broker: BrokerArg, policy: PolicyArg } own: DemoArgs
);
subcommand_options!(
    /// Options of `tenure bench`.
    BenchOptions { database: DatabaseArg, broker: BrokerArg } own: BenchArgs
);
subcommand_options!(
    /// Options of `tenure run`.
    RunOptions {
        database: DatabaseArg,
        broker: BrokerArg,
        policy: PolicyArg,
        serve: ServeArgs,
        ingest: IngestTimeoutArg,
        command_topics: CommandTopicsArg,
        replication: ReplicationArg,
        retry: RetryArgs,
        brake: BrakeArgs,
    } own: RunArgs
);
subcommand_options!(
    /// Options of `tenure ingest`.
    IngestOptions {
        database: DatabaseArg,
        broker: BrokerArg,
        policy: PolicyArg,
        serve: ServeArgs,
        ingest: IngestTimeoutArg,
    } own: ListenArgs
);
subcommand_options!(
    /// Options of `tenure projector`.
    ProjectorOptions {
        database: DatabaseArg,
        broker: BrokerArg,
        policy: PolicyArg,
        serve: ServeArgs,
    } own: OptionalListenArgs
);
subcommand_options!(
    /// Options of `tenure reactor`.
    ReactorOptions {
        database: DatabaseArg,
        broker: BrokerArg,
        policy: PolicyArg,
        serve: ServeArgs,
        command_topics: CommandTopicsArg,
        replication: ReplicationArg,
        retry: RetryArgs,
        brake: BrakeArgs,
    } own: OptionalListenArgs
);
subcommand_options!(
    /// Options of `tenure broker`.
    BrokerOptions {} own: BrokerArgs
);
subcommand_options!(
    /// Options of `tenure gen`.
    GenOptions { broker: BrokerArg } own: crate::generate::GenArgs
);
subcommand_options!(
    /// Options of `tenure replay`.
    ReplayOptions { database: DatabaseArg, broker: BrokerArg } own: crate::replay::ReplayArgs
);
subcommand_options!(
    /// Options of `tenure audit`.
    AuditOptions { database: DatabaseArg } own: crate::audit::AuditArgs
);
subcommand_options!(
    /// Options of `tenure report`.
    ReportOptions { database: DatabaseArg } own: crate::audit::ReportArgs
);
subcommand_options!(
    /// Options of `tenure simulate`.
    SimulateOptions { database: DatabaseArg, policy: PolicyArg } own: crate::simulate::SimulateArgs
);
subcommand_options!(
    /// Options of `tenure migrate`.
    MigrateOptions { database: DatabaseArg }
);
subcommand_options!(
    /// Options of `tenure reconcile`.
    ReconcileOptions { broker: BrokerArg, command_topics: CommandTopicsArg } own: crate::reconcile::ReconcileArgs
);
subcommand_options!(
    /// Options of `tenure topics`.
    TopicsOptions { broker: BrokerArg, replication: ReplicationArg } own: TopicsArgs
);

/// Options of `tenure events`.
#[derive(Debug, Args)]
pub struct EventsOptions {
    #[command(flatten)]
    pub broker: BrokerArg,
    #[command(subcommand)]
    pub action: crate::events::EventsAction,
}

/// Options of `tenure dead-letters`.
#[derive(Debug, Args)]
pub struct DeadLettersOptions {
    #[command(flatten)]
    pub database: DatabaseArg,
    #[command(flatten)]
    pub broker: BrokerArg,
    #[command(subcommand)]
    pub action: crate::dead_letters::DeadLetterAction,
}

/// Options of `tenure brake`.
#[derive(Debug, Args)]
pub struct BrakeCommandOptions {
    #[command(flatten)]
    pub database: DatabaseArg,
    #[command(flatten)]
    pub retry: RetryArgs,
    #[command(subcommand)]
    pub action: BrakeAction,
}

/// How many partitions `tenure topics` gives each topic.
#[derive(Debug, Args)]
pub struct TopicsArgs {
    /// Partitions per topic: the most instances of one consumer (projector, reactor)
    /// that can share the work.
    #[arg(long, env = "TENURE_TOPIC_PARTITIONS", default_value_t = topics::DEFAULT_PARTITIONS)]
    pub partitions: i32,
}

/// What `tenure` can do; each variant's doc is its `--help` text, and each takes only
/// the settings it uses.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole pipeline on a small built-in organisation and print what was
    /// granted, what was revoked and why, and how long each revocation took.
    #[command(after_help = "Example: tenure demo --expiry-seconds 6")]
    Demo(DemoOptions),
    /// Measure Tenure's speeds beside the raw limits of the same broker and PostgreSQL,
    /// print one table and write it as JSON.
    #[command(after_help = "Example: tenure bench --quick --out target/bench/quick.json")]
    Bench(BenchOptions),
    /// Run ingest, projector, reactor, outbox relay and scheduler in one process.
    #[command(
        after_help = "Example: tenure run --listen 127.0.0.1:8080 --storage sqlite://.tenure/broker.db"
    )]
    Run(RunOptions),
    /// Run only the ingest HTTP API (needs --bootstrap).
    #[command(
        after_help = "Example: tenure ingest --bootstrap kafka:9092 --listen 0.0.0.0:8080 --credentials /etc/tenure/credentials.toml"
    )]
    Ingest(IngestOptions),
    /// Run only the projector (needs --bootstrap); with --listen, also its query API.
    #[command(
        after_help = "Example: tenure projector --bootstrap kafka:9092 --listen 0.0.0.0:8081"
    )]
    Projector(ProjectorOptions),
    /// Run only the reactor with its outbox relay and deadline scheduler (needs --bootstrap);
    /// with --listen, also its brake API and health endpoints.
    #[command(
        after_help = "Example: tenure reactor --bootstrap kafka:9092 --command-topics per-system"
    )]
    Reactor(ReactorOptions),
    /// Run the embedded tansu broker in the foreground and create Tenure's topics.
    #[command(
        after_help = "Example: tenure broker --storage sqlite://.tenure/broker.db --broker-port 9092"
    )]
    Broker(BrokerOptions),
    /// Generate a synthetic organisation's history: NDJSON for the HTTP API and raw
    /// topics, or the lifecycle log itself.
    #[command(after_help = "Example: tenure gen --people 2000 --years 3 --out target/gen")]
    Gen(GenOptions),
    /// Rebuild the projection from the log into a fresh schema, verify it against the
    /// live projection by checksum, and optionally switch the live API to it.
    #[command(after_help = "Example: tenure replay --bootstrap kafka:9092")]
    Replay(ReplayOptions),
    /// Print lifecycle events from the log as JSON lines (show: what is there now;
    /// tail: and then follow), filtered by offset, time, identity or type.
    #[command(after_help = "Example: tenure events --bootstrap kafka:9092 show --identity hr:E100")]
    Events(EventsOptions),
    /// One identity's full timeline for auditors: every event, grant and revocation
    /// with its cause, command id and acknowledgement (table, JSON or CSV).
    #[command(after_help = "Example: tenure audit hr:E100 --format csv")]
    Audit(AuditOptions),
    /// One identity's governance picture (grants, expiries, revocations and their
    /// time to revoke, owned non-human identities) as text or JSON.
    #[command(after_help = "Example: tenure report hr:E100 --json")]
    Report(ReportOptions),
    /// Run the reactor's rules under the candidate policy given by --policy over the
    /// recorded history, emitting nothing, and report what would have been revoked or
    /// granted differently.
    #[command(after_help = "Example: tenure simulate --policy candidate-policy.toml")]
    Simulate(SimulateOptions),
    /// Create the database if needed, apply schema migrations, and exit.
    #[command(
        after_help = "Example: tenure migrate --database-url postgres://tenure@db:5432/tenure"
    )]
    Migrate(MigrateOptions),
    /// Records a consumer parked because they cannot be processed: list them, or send
    /// them back to their topic after a fix.
    #[command(after_help = "Example: tenure dead-letters --bootstrap kafka:9092 retry --all")]
    DeadLetters(DeadLettersOptions),
    /// Show the safety brake's held revocations, or release them for publication.
    #[command(
        after_help = "Example: tenure brake release --actor alice --reason \"mass leaver confirmed by HR\""
    )]
    Brake(BrakeCommandOptions),
    /// Ask a system's connector to list what its target holds, so Tenure can compare
    /// it with its grants: access given out of band, revocations that did not stick,
    /// grants missing from the target.
    #[command(after_help = "Example: tenure reconcile --bootstrap kafka:9092 --system postgres")]
    Reconcile(ReconcileOptions),
    /// Create Tenure's topics on the broker given by --bootstrap, if missing.
    #[command(
        after_help = "Example: tenure topics --bootstrap kafka:9092 --partitions 12 --topic-replication-factor 3"
    )]
    Topics(TopicsOptions),
}

impl Command {
    /// The settings this command runs with: the groups it takes, the defaults of the rest.
    pub fn settings(&self) -> Settings {
        let mut settings = Settings::default();
        let groups: Vec<&dyn Configure> = match self {
            Command::Demo(o) => vec![o],
            Command::Bench(o) => vec![o],
            Command::Run(o) => vec![o],
            Command::Ingest(o) => vec![o],
            Command::Projector(o) => vec![o],
            Command::Reactor(o) => vec![o],
            Command::Broker(o) => vec![o],
            Command::Gen(o) => vec![o],
            Command::Replay(o) => vec![o],
            Command::Events(o) => vec![&o.broker],
            Command::Audit(o) => vec![o],
            Command::Report(o) => vec![o],
            Command::Simulate(o) => vec![o],
            Command::Migrate(o) => vec![o],
            Command::DeadLetters(o) => vec![&o.database, &o.broker],
            Command::Brake(o) => vec![&o.database, &o.retry],
            Command::Reconcile(o) => vec![o],
            Command::Topics(o) => vec![o],
        };
        for group in groups {
            group.configure(&mut settings);
        }
        settings
    }
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
    #[arg(long, conflicts_with = "events")]
    pub people: Option<usize>,
    /// About this many events in the throughput phase (`--events 1000000` is the
    /// production size); overrides --quick and sets the number of people.
    #[arg(long)]
    pub events: Option<usize>,
    /// Background HR events per second while time to command is measured, one
    /// measurement per rate [default: 200 with --quick, else 200,1000].
    #[arg(long = "background-rate", value_delimiter = ',')]
    pub background_rates: Vec<usize>,
    /// Years of history at which peak memory is measured.
    #[arg(long, value_delimiter = ',', default_value = "2,4,8")]
    pub years: Vec<u32>,
    /// Only these phases [default: all].
    #[arg(long, value_delimiter = ',', value_enum)]
    pub only: Vec<BenchPhase>,
    /// tansu storage for the bench's own broker: `memory://tansu/`, or the durable
    /// `sqlite://FILE` (FILE is emptied at every run).
    #[arg(long, default_value = "memory://tansu/")]
    pub storage: String,
    /// Where to write the JSON report.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// A part of `tenure bench` that can be run alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchPhase {
    /// Produce, consume, COPY, projector, replay and HTTP ingest, with their ratios.
    Throughput,
    /// Time to command for leavers and expiries, under background load and beside a replay.
    Latency,
    /// Peak memory of each service at several history lengths.
    Memory,
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
    let Settings {
        connect,
        retry,
        brake,
    } = cli.command.settings();
    if let Some(kind) = connect.broker_kind {
        tenure_kafka::flavour::declare(kind);
    }
    topics::declare_replication_factor(connect.topic_replication_factor);
    tenure_kafka::connection::load_passthrough().map_err(anyhow::Error::msg)?;
    let retry = retry.policy();
    let brake = brake.policy();
    let credentials = services::load_credentials(connect.credentials.as_deref()).await?;
    match cli.command {
        Command::Demo(o) => demo::run(&connect, retry, brake, o.args).await,
        Command::Bench(o) => bench::run(&connect, o.args).await,
        Command::Events(EventsOptions { action, .. }) => {
            let bootstrap = require_bootstrap(&connect)?;
            crate::events::run(bootstrap, action).await
        }
        Command::Audit(o) => crate::audit::run_audit(&connect.database_url, o.args).await,
        Command::Report(o) => crate::audit::run_report(&connect.database_url, o.args).await,
        Command::Simulate(SimulateOptions { args, .. }) => {
            let candidate = connect
                .policy
                .as_deref()
                .context("simulate needs the candidate policy: --policy FILE")?;
            let candidate = services::load_policy(Some(candidate))?;
            crate::simulate::run(&connect.database_url, &candidate, args).await
        }
        Command::Gen(o) => crate::generate::run(connect.bootstrap.clone(), o.args).await,
        Command::Replay(ReplayOptions { args, .. }) => {
            let bootstrap = require_bootstrap(&connect)?;
            crate::replay::run(&connect.database_url, &bootstrap, args).await
        }
        Command::DeadLetters(DeadLettersOptions { action, .. }) => {
            crate::dead_letters::run(&connect.database_url, connect.bootstrap.clone(), action).await
        }
        Command::Brake(BrakeCommandOptions { action, .. }) => {
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
        Command::Migrate(_) => {
            let db = Database::connect(&connect.database_url).await?;
            println!("database {} is migrated to the latest schema", db.name());
            Ok(())
        }
        Command::Reconcile(ReconcileOptions { args, .. }) => {
            let bootstrap = require_bootstrap(&connect)?;
            crate::reconcile::run(&bootstrap, connect.command_topics, args).await
        }
        Command::Topics(TopicsOptions {
            args: TopicsArgs { partitions },
            ..
        }) => {
            let bootstrap = require_bootstrap(&connect)?;
            topics::ensure_topics(&bootstrap, partitions).await?;
            println!("topics ready on {bootstrap}");
            Ok(())
        }
        Command::Broker(BrokerOptions { args }) => {
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
        Command::Run(RunOptions { args, .. }) => {
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
                Command::Ingest(IngestOptions { args, .. }) => (
                    services::Selection {
                        ingest: true,
                        ..Default::default()
                    },
                    Some(args.listen),
                ),
                Command::Projector(ProjectorOptions { args, .. }) => (
                    services::Selection {
                        projector: true,
                        ..Default::default()
                    },
                    args.listen,
                ),
                Command::Reactor(ReactorOptions { args, .. }) => (
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
