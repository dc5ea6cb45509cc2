//! Time-to-command under load: how long from a trigger (a leaver ingested over HTTP,
//! or an expiry falling due) to its revocation command on `tenure.commands.v1`, while
//! a steady stream of other HR events flows through the same pipeline.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use prost::Message as _;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use serde_json::json;
use tenure_kafka::topics;
use tenure_proto::v1;
use tenure_store::Database;
use tokio::task::JoinSet;

use crate::{services, shutdown};

/// Latency percentiles of one kind of trigger, in milliseconds.
#[derive(Debug, serde::Serialize)]
pub struct Latency {
    pub samples: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

fn percentiles(mut ms: Vec<f64>) -> Latency {
    ms.sort_by(|a, b| a.total_cmp(b));
    let at = |p: f64| {
        ms.get(((p * ms.len() as f64).ceil() as usize).clamp(1, ms.len().max(1)) - 1)
            .copied()
            .unwrap_or(f64::NAN)
    };
    Latency {
        samples: ms.len(),
        p50_ms: at(0.5),
        p99_ms: at(0.99),
        max_ms: ms.last().copied().unwrap_or(f64::NAN),
    }
}

/// When a revocation command was seen, per (identity, cause): the first arrival.
#[derive(Clone, Copy)]
struct Arrival {
    /// When the watcher received it.
    received: DateTime<Utc>,
    /// When the relay handed it to its producer (the record's create time).
    sent: Option<DateTime<Utc>>,
}

/// What the watcher saw: commands, and when each identity's leave reached the log.
#[derive(Default)]
struct Seen {
    commands: HashMap<(String, i32), Arrival>,
    /// The create time of each identity's first `identity_left` on the lifecycle log.
    left_logged: HashMap<String, DateTime<Utc>>,
}

type Arrivals = Arc<Mutex<Seen>>;

fn create_time(message: &rdkafka::message::BorrowedMessage<'_>) -> Option<DateTime<Utc>> {
    message
        .timestamp()
        .to_millis()
        .and_then(DateTime::<Utc>::from_timestamp_millis)
}

fn watch_commands(
    bootstrap: String,
    arrivals: Arrivals,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let consumer: BaseConsumer = tenure_kafka::client_config(&bootstrap)
        .set("group.id", "tenure-bench-latency")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "5")
        .create()?;
    consumer.subscribe(&[topics::COMMANDS, topics::LIFECYCLE])?;
    while !*stop.borrow() {
        let Some(message) = consumer.poll(Duration::from_millis(50)) else {
            continue;
        };
        let message = message?;
        let arrived = Utc::now();
        let ce_type = message
            .headers()
            .and_then(|hs| hs.iter().find(|h| h.key == "ce_type"))
            .and_then(|h| h.value);
        if ce_type == Some(b"tenure.commands.v1.revoke".as_slice()) {
            let command = v1::RevocationCommand::decode(message.payload().unwrap_or_default())?;
            arrivals
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .commands
                .entry((command.identity_id, command.cause))
                .or_insert(Arrival {
                    received: arrived,
                    sent: create_time(&message),
                });
        } else if ce_type == Some(b"tenure.lifecycle.v1.identity_left".as_slice())
            && let Some(logged) = create_time(&message)
        {
            let event = v1::LifecycleEvent::decode(message.payload().unwrap_or_default())?;
            arrivals
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .left_logged
                .entry(event.identity_id)
                .or_insert(logged);
        }
    }
    Ok(())
}

async fn post(http: &reqwest::Client, url: &str, body: String, ndjson: bool) -> anyhow::Result<()> {
    let mut request = http.post(url).body(body);
    request = request.header(
        "content-type",
        if ndjson {
            "application/x-ndjson"
        } else {
            "application/json"
        },
    );
    let response = request.send().await?;
    anyhow::ensure!(
        response.status() == 202,
        "{url}: {} {}",
        response.status(),
        response.text().await?
    );
    Ok(())
}

/// What the latency run measured.
pub struct Latencies {
    /// Leaver POST to its revocation command on the topic.
    pub leavers: Latency,
    /// Due time to the expiry's revocation command.
    pub expiries: Latency,
    /// Leaver POST to its role membership gone from PostgreSQL (the reference
    /// connector executing the command).
    pub removals: Latency,
    /// A leaver's time to command in stages, by the records' create times: ingest
    /// (POST to the leave on the log), decision (the leave on the log to the relay
    /// sending its command) and delivery (sent to received by a consumer).
    pub leaver_stages: Vec<(&'static str, Latency)>,
}

/// Measures leaver and expiry time-to-command with `people` people and a background
/// load of `background_rate` HR events per second, and leavers until their access is
/// really gone from a PostgreSQL target. With `beside_replay`, operators replay the
/// log into fresh schemas of the same database, one after another, all the while.
pub async fn measure(
    database_url: &str,
    storage: &str,
    people: usize,
    background_rate: usize,
    beside_replay: bool,
) -> anyhow::Result<Latencies> {
    Database::drop_database(database_url).await?;
    let db = Database::connect(database_url).await?;
    let admin_url = crate::demo::with_database(database_url, "postgres")?;
    let target_url = crate::demo::with_database(database_url, "tenure_bench_target")?;
    crate::removal::prepare(&admin_url, &target_url).await?;
    let policy =
        crate::removal::extend_policy(crate::services::DEFAULT_POLICY, "tenure_bench_target")?;
    let broker = services::start_embedded_broker(storage, 0, None).await?;
    let bootstrap = broker.bootstrap().to_owned();
    let (stop, stopped) = shutdown::channel();
    let mut tasks = JoinSet::new();
    let selection = services::Selection {
        ingest: true,
        projector: false,
        reactor: true,
    };
    let rules = services::Rules {
        policy: tenure_core::Policy::from_toml(&policy)?,
        retry: Default::default(),
        brake: tenure_reactor::BrakePolicy {
            minimum: i64::MAX,
            ..Default::default()
        },
        credentials: Default::default(),
        check_owners: false,
        ingest_timeout: services::INGEST_TIMEOUT,
        admin_listen: None,
        command_topics: Default::default(),
    };
    let addr = services::spawn(
        &mut tasks,
        selection,
        &bootstrap,
        &db,
        rules,
        Some("127.0.0.1:0".parse()?),
        &stopped,
    )
    .await?
    .context("ingest did not start")?;
    let base = format!("http://{addr}");
    {
        let (bootstrap, target_url, stopped) =
            (bootstrap.clone(), target_url.clone(), stopped.clone());
        let ledger =
            std::env::temp_dir().join(format!("tenure-bench-{}.ledger", uuid::Uuid::new_v4()));
        tasks.spawn(async move {
            let run = async {
                let connector = tenure_connector_postgres::PostgresRoles::connect(
                    &target_url,
                    vec![crate::removal::GROUP_ROLE.to_owned()],
                )
                .await?;
                let config = tenure_connector::RunnerConfig::new(
                    &bootstrap,
                    tenure_connector_postgres::SYSTEM,
                    "postgres-bench",
                    ledger.clone(),
                );
                tenure_connector::run(connector, config, Default::default(), stopped).await?;
                let _ = std::fs::remove_file(&ledger);
                anyhow::Ok(())
            };
            ("postgres connector", run.await)
        });
    }
    let http = reqwest::Client::new();
    let arrivals: Arrivals = Default::default();
    let watcher = {
        let (bootstrap, arrivals, stopped) = (bootstrap.clone(), arrivals.clone(), stopped.clone());
        tokio::task::spawn_blocking(move || watch_commands(bootstrap, arrivals, stopped))
    };

    // The organisation joins in bulk, long ago.
    let hired = (Utc::now() - chrono::Duration::days(365)).to_rfc3339();
    let roles = ["engineer", "sales", "finance"];
    for chunk in (0..people).collect::<Vec<_>>().chunks(5_000) {
        let body: String = chunk
            .iter()
            .map(|p| {
                json!({"event_id": format!("hire-{p}"), "type": "joiner", "employee_id": format!("P{p}"),
                       "role": roles[p % 3], "login": crate::removal::login(*p), "effective_time": hired})
                .to_string()
                    + "\n"
            })
            .collect();
        post(&http, &format!("{base}/v1/hr/events"), body, true).await?;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Leavers are timed once everyone's membership is there, not behind the bulk load.
    crate::removal::wait_provisioned(&target_url, people, Duration::from_secs(300)).await?;
    let pending: crate::removal::Pending = Default::default();
    let removals = tokio::spawn(crate::removal::watch_removals(
        target_url.clone(),
        pending.clone(),
        stopped.clone(),
    ));

    // Background: movers and leaves of absence among the first half of the people.
    let background = {
        let (http, base, mut stopped) = (http.clone(), base.clone(), stopped.clone());
        tokio::spawn(async move {
            let per_tick = (background_rate / 10).max(1);
            let mut n = 0usize;
            loop {
                let body: String = (0..per_tick)
                    .map(|_| {
                        n += 1;
                        let person = n % (people / 2).max(1);
                        let event = if n.is_multiple_of(2) {
                            json!({"event_id": format!("bg-{n}"), "type": "mover", "employee_id": format!("P{person}"),
                                   "role": roles[n % 3], "title": format!("t{n}"), "effective_time": Utc::now().to_rfc3339()})
                        } else {
                            json!({"event_id": format!("bg-{n}"), "type": "leave_of_absence_start",
                                   "employee_id": format!("P{person}"), "effective_time": Utc::now().to_rfc3339()})
                        };
                        event.to_string() + "\n"
                    })
                    .collect();
                let _ = post(&http, &format!("{base}/v1/hr/events"), body, true).await;
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    _ = stopped.changed() => return,
                }
            }
        })
    };

    let replays = beside_replay.then(|| {
        tokio::spawn(replay_all_along(
            database_url.to_owned(),
            bootstrap.clone(),
            stopped.clone(),
        ))
    });

    // Triggers among the second half: leavers now, and grants that expire soon.
    let samples = 100.min(people / 4).max(1);
    let mut leavers: Vec<(String, DateTime<Utc>)> = Vec::new();
    let mut expiries: Vec<(String, DateTime<Utc>)> = Vec::new();
    let first = people / 2;
    for i in 0..samples {
        let person = format!("P{}", first + i);
        let due = Utc::now() + chrono::Duration::seconds(3);
        post(&http, &format!("{base}/v1/itsm/events"), json!({"event_id": format!("x-{i}"), "type": "access_fulfilled",
            "request_id": format!("RX-{i}"), "employee_id": format!("P{}", first + samples + i),
            "entitlement": "aws:prod-account:admin", "owner": "P0", "business_reason": "bench",
            "effective_time": Utc::now().to_rfc3339(), "revocation": {"expires_at": due.to_rfc3339()}}).to_string(), false)
        .await?;
        expiries.push((
            tenure_core::ids::identity("hr", &format!("P{}", first + samples + i)).to_string(),
            due,
        ));
        let sent = Utc::now();
        pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(crate::removal::login(first + i), sent);
        post(
            &http,
            &format!("{base}/v1/hr/events"),
            json!({"event_id": format!("leave-{i}"), "type": "leaver",
            "employee_id": person, "effective_time": sent.to_rfc3339()})
            .to_string(),
            false,
        )
        .await?;
        leavers.push((tenure_core::ids::identity("hr", &person).to_string(), sent));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(8)).await;
    let _ = stop.send(true);
    background.await?;
    if let Some(replays) = replays {
        let done = replays.await??;
        anyhow::ensure!(done > 0, "no replay ran beside the triggers");
    }
    watcher.await??;
    let removed = removals.await??;
    services::supervise(tasks, &stop).await?;
    broker.stop().await;
    let still = pending.lock().unwrap_or_else(|p| p.into_inner()).len();
    anyhow::ensure!(
        still == 0,
        "{still} leavers still held their PostgreSQL membership at the end"
    );
    crate::removal::clean(&admin_url).await?;
    Database::drop_database(&target_url).await?;

    let seen = std::mem::take(&mut *arrivals.lock().unwrap_or_else(|p| p.into_inner()));
    let ms = |from: DateTime<Utc>, to: DateTime<Utc>| {
        (to - from).num_microseconds().unwrap_or(0) as f64 / 1000.0
    };
    let arrival = |identity: &str, cause: v1::RevocationCause| -> anyhow::Result<Arrival> {
        seen.commands
            .get(&(identity.to_owned(), cause as i32))
            .copied()
            .with_context(|| format!("no {cause:?} command for {identity}"))
    };
    let latency = |triggers: &[(String, DateTime<Utc>)],
                   cause: v1::RevocationCause|
     -> anyhow::Result<Latency> {
        let times = triggers
            .iter()
            .map(|(identity, at)| Ok(ms(*at, arrival(identity, cause)?.received)))
            .collect::<anyhow::Result<Vec<f64>>>()?;
        Ok(percentiles(times))
    };
    let (mut ingest, mut decision, mut delivery) = (Vec::new(), Vec::new(), Vec::new());
    for (identity, posted) in &leavers {
        let command = arrival(identity, v1::RevocationCause::Leaver)?;
        if let (Some(logged), Some(sent)) = (seen.left_logged.get(identity), command.sent) {
            ingest.push(ms(*posted, *logged));
            decision.push(ms(*logged, sent));
            delivery.push(ms(sent, command.received));
        }
    }
    Ok(Latencies {
        leavers: latency(&leavers, v1::RevocationCause::Leaver)?,
        expiries: latency(&expiries, v1::RevocationCause::Expiry)?,
        removals: percentiles(removed),
        leaver_stages: vec![
            ("ingest (POST to the leave on the log)", percentiles(ingest)),
            (
                "decision (on the log to the command sent)",
                percentiles(decision),
            ),
            ("delivery (sent to received)", percentiles(delivery)),
        ],
    })
}

/// Replays the whole log into a fresh schema, again and again, until `stop`; returns
/// how many replays finished. A replay under way when `stop` turns is finished (it
/// ends at the log's end when it began), so none is left consuming.
async fn replay_all_along(
    database_url: String,
    bootstrap: String,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<usize> {
    let mut done = 0;
    while !*stop.borrow() {
        let schema = format!("bench_beside_{done}");
        let replayed = Database::connect_in_schema(&database_url, &schema).await?;
        let ends = topics::end_offsets(&bootstrap, topics::LIFECYCLE).await?;
        let group = tenure_projector::replay::replay_group(&schema);
        tenure_projector::replay::replay(&bootstrap, &replayed, &group, None, &ends, |_, _| {})
            .await?;
        done += 1;
    }
    Ok(done)
}
