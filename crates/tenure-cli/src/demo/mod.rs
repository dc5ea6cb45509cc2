//! `tenure demo`: the whole pipeline on a small built-in organisation, end to end on
//! a real broker and the real PostgreSQL, explained as it goes.

mod connector;
mod report;
mod scenario;
mod target;

pub(crate) use target::recreate_database;

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tenure_kafka::topics;
use tenure_store::Database;
use tokio::task::JoinSet;

use crate::cli::{ConnectArgs, DemoArgs};
use crate::{services, shutdown, sql};

/// Replaces the database name in a PostgreSQL URL, keeping host, user and options.
pub(crate) fn with_database(url: &str, database: &str) -> anyhow::Result<String> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base
        .find("://")
        .context("DATABASE_URL must look like postgres://user@host:port/db")?
        + 3;
    let host_part = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    Ok(match query {
        Some(q) => format!("{host_part}/{database}?{q}"),
        None => format!("{host_part}/{database}"),
    })
}

/// Deadlines due by `until` that have not fired, and revocations not yet confirmed.
async fn unsettled_work(
    client: &tokio_postgres::Client,
    until: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<(i64, i64)> {
    let row = client.query_one(sql::UNSETTLED_WORK, &[&until]).await?;
    Ok((row.get(0), row.get(1)))
}

/// Waits until the projector and the reactor have consumed the whole log, the outbox
/// is empty, no deadline due by `until` is unfired, and no revocation is unconfirmed.
async fn settle(
    db: &Database,
    bootstrap: &str,
    until: chrono::DateTime<chrono::Utc>,
    limit: Duration,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut quiet_checks = 0;
    loop {
        let client = db.client().await?;
        let client: &tokio_postgres::Client = &client;
        let ends = topics::end_offsets(bootstrap, topics::LIFECYCLE).await?;
        let lag =
            tenure_store::offsets::lag(client, tenure_projector::GROUP, topics::LIFECYCLE, &ends)
                .await?
                + tenure_store::offsets::lag(
                    client,
                    tenure_reactor::GROUP,
                    topics::LIFECYCLE,
                    &ends,
                )
                .await?;
        let outbox = tenure_store::outbox::depth(client).await?;
        let (deadlines, pending) = unsettled_work(client, until).await?;
        let quiet =
            lag == 0 && outbox == 0 && deadlines == 0 && pending == 0 && chrono::Utc::now() > until;
        quiet_checks = if quiet { quiet_checks + 1 } else { 0 };
        if quiet_checks >= 3 {
            return Ok(());
        }
        if started.elapsed() > limit {
            bail!(
                "the pipeline did not settle within {limit:?}: lag {lag}, outbox {outbox}, due deadlines {deadlines}, \
                 unconfirmed revocations {pending}"
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Runs the demo.
pub async fn run(
    connect: &ConnectArgs,
    retry: tenure_reactor::RetryPolicy,
    brake: tenure_reactor::BrakePolicy,
    args: DemoArgs,
) -> anyhow::Result<()> {
    let url = with_database(&connect.database_url, &args.database)?;
    let target_database = format!("{}_target", args.database);
    let target_url = with_database(&connect.database_url, &target_database)?;
    let policy = services::policy_text(connect.policy.as_deref())?;
    let policy = tenure_core::Policy::from_toml(&target::extend_policy(&policy, &target_database)?)
        .context("the demo's policy is invalid")?;
    target::prepare(
        &with_database(&connect.database_url, "postgres")?,
        &target_url,
    )
    .await?;
    Database::drop_database(&url)
        .await
        .with_context(|| format!("cannot reach PostgreSQL at {url}"))?;
    let db = Database::connect(&url).await?;

    let (broker, bootstrap, storage) = match &connect.bootstrap {
        Some(b) => (None, b.clone(), "external".to_owned()),
        None => {
            let dir = std::path::Path::new(".tenure/demo");
            std::fs::create_dir_all(dir).context("cannot create .tenure/demo")?;
            let storage = args.storage.clone().unwrap_or_else(|| {
                format!(
                    "sqlite://.tenure/demo/broker-{}.db",
                    chrono::Utc::now().format("%Y%m%dT%H%M%S")
                )
            });
            let broker =
                services::start_embedded_broker(&storage, 0, Some(dir.join("broker.log"))).await?;
            let bootstrap = broker.bootstrap().to_owned();
            (Some(broker), bootstrap, storage)
        }
    };
    topics::ensure_topics(&bootstrap, topics::DEFAULT_PARTITIONS).await?;
    println!("Tenure demo");
    println!("  broker     {bootstrap} (tansu, storage {storage})");
    println!("  database   {url}");
    println!("  target     {target_url} (roles granted and revoked by the PostgreSQL connector)");
    println!();

    let (stop, stopped) = shutdown::channel();
    let mut tasks = JoinSet::new();
    let addr = services::spawn(
        &mut tasks,
        services::Selection::all(),
        &bootstrap,
        &db,
        services::Rules {
            policy,
            retry,
            brake,
            credentials: Default::default(),
            check_owners: true,
            ingest_timeout: services::INGEST_TIMEOUT,
            admin_listen: None,
            command_topics: Default::default(),
        },
        Some("127.0.0.1:0".parse()?),
        &stopped,
    )
    .await?
    .context("ingest did not start")?;
    let base = format!("http://{addr}");
    {
        let (bootstrap, base, stopped) = (bootstrap.clone(), base.clone(), stopped.clone());
        tasks.spawn(async move {
            (
                "demo connector",
                connector::run(&bootstrap, &base, stopped).await,
            )
        });
    }

    {
        let (bootstrap, target_url, stopped) =
            (bootstrap.clone(), target_url.clone(), stopped.clone());
        let ledger = std::path::Path::new(".tenure/demo").join("postgres-connector.ledger");
        let _ = std::fs::remove_file(&ledger);
        tasks.spawn(async move {
            let run = async {
                let connector = tenure_connector_postgres::PostgresRoles::connect(
                    &target_url,
                    target::GROUP_ROLES
                        .iter()
                        .map(|(_, g)| (*g).to_owned())
                        .collect(),
                )
                .await?;
                let config = tenure_connector::RunnerConfig::new(
                    &bootstrap,
                    tenure_connector_postgres::SYSTEM,
                    "postgres-demo",
                    ledger,
                );
                tenure_connector::run(connector, config, Default::default(), stopped).await?;
                anyhow::Ok(())
            };
            ("postgres connector", run.await)
        });
    }

    let play = async {
        let scenario =
            scenario::Scenario::new(chrono::Utc::now(), Duration::from_secs(args.expiry_seconds));
        let log = scenario.play(&base, &db, &bootstrap, &target_url).await?;
        settle(
            &db,
            &bootstrap,
            scenario.last_deadline(),
            Duration::from_secs(120),
        )
        .await?;
        anyhow::Ok(log)
    };
    let outcome = tokio::select! {
        log = play => log,
        Some(joined) = tasks.join_next() => {
            let (name, result) = joined.context("a service panicked")?;
            Err(anyhow::anyhow!("{name} stopped during the demo: {:?}", result.err()))
        }
    };
    let result = match outcome {
        Ok(log) => report::print(&db, &log, &target_url, args.json).await,
        Err(e) => Err(e),
    };
    let _ = stop.send(true);
    let stopped_cleanly = services::supervise(tasks, &stop).await;
    if let Some(broker) = broker {
        broker.stop().await;
    }
    result.and(stopped_cleanly)
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_only_the_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/tenure", "tenure_demo").unwrap(),
            "postgres://postgres@127.0.0.1:5432/tenure_demo"
        );
        assert_eq!(
            with_database("postgres://u:p@h/x?sslmode=disable", "d").unwrap(),
            "postgres://u:p@h/d?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "d").unwrap(),
            "postgres://h:5432/d"
        );
        assert!(with_database("nonsense", "d").is_err());
    }
}
