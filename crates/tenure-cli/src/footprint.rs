//! Peak memory (RSS) of each component as separate processes, fed a generated
//! organisation through HTTP ingest, at a given history size: the bench runs it at two
//! sizes to show memory does not grow with the length of the history.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use tenure_gen::org::{Channel, Generated, OrgConfig, generate};
use tenure_kafka::topics;
use tenure_store::Database;

use crate::services;

/// Peak resident memory of each component after handling one history.
#[derive(Debug, Serialize)]
pub struct Footprint {
    pub people: usize,
    /// Years of history: the same organisation over a longer history has a longer log.
    pub years: u32,
    /// Records on the lifecycle log once everything settled.
    pub log_records: i64,
    /// Source records posted (HR and ITSM), and how many ingest refused.
    pub posted: usize,
    pub refused: usize,
    pub ingest_peak_mib: f64,
    pub projector_peak_mib: f64,
    pub reactor_peak_mib: f64,
}

/// `VmHWM` (peak resident set) of a process, in MiB.
fn peak_mib(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status"))?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no VmHWM in /proc status")?;
    Ok(kib / 1024.0)
}

/// A component running as its own `tenure` process, killed when dropped.
struct Component(std::process::Child);

impl Drop for Component {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(database_url: &str, bootstrap: &str, args: &[&str]) -> anyhow::Result<Component> {
    let child = std::process::Command::new(std::env::current_exe()?)
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("KAFKA_BOOTSTRAP_SERVERS", bootstrap)
        .env("TENURE_LOG", "warn")
        .env("TENURE_BROKER_KIND", "tansu")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start a tenure component")?;
    Ok(Component(child))
}

/// The lines with each person's events held back until their first joiner: a
/// generated history delivers a few late (a leaver a line before its joiner), which
/// ingest accepts within one request but not across two, and the bench cuts its
/// requests every 1,000 lines.
fn joiners_first(lines: Vec<String>, employee: impl Fn(&str) -> Option<String>) -> Vec<String> {
    let mut joined = std::collections::HashSet::new();
    let mut waiting: std::collections::HashMap<String, Vec<String>> = Default::default();
    let mut ordered = Vec::with_capacity(lines.len());
    for line in lines {
        let Some(id) = employee(&line) else {
            ordered.push(line);
            continue;
        };
        let joins = line.contains("\"type\":\"joiner\"") || line.contains("\"type\":\"rehire\"");
        if joined.contains(&id) {
            ordered.push(line);
        } else if joins {
            joined.insert(id.clone());
            ordered.push(line);
            ordered.extend(waiting.remove(&id).unwrap_or_default());
        } else {
            waiting.entry(id).or_default().push(line);
        }
    }
    // Events of people never hired stay in, to be refused and counted.
    ordered.extend(waiting.into_values().flatten());
    ordered
}

/// Posts NDJSON batches; returns how many lines were refused.
async fn post_all(http: &reqwest::Client, url: &str, lines: &[String]) -> anyhow::Result<usize> {
    let mut refused = 0;
    for chunk in lines.chunks(1_000) {
        let response = http
            .post(url)
            .header("content-type", "application/x-ndjson")
            .body(chunk.join("\n"))
            .send()
            .await?;
        if response.status() != 202 {
            refused += chunk.len();
            tracing::warn!(status = %response.status(), body = %response.text().await.unwrap_or_default(), "bench batch refused");
        }
    }
    Ok(refused)
}

async fn settle(db: &Database, bootstrap: &str, limit: Duration) -> anyhow::Result<i64> {
    let started = Instant::now();
    loop {
        let ends = topics::end_offsets(bootstrap, topics::LIFECYCLE).await?;
        let client = db.client().await?;
        let client: &tokio_postgres::Client = &client;
        let mut lag = 0;
        for group in [tenure_projector::GROUP, tenure_reactor::GROUP] {
            lag += tenure_store::offsets::lag(client, group, topics::LIFECYCLE, &ends).await?;
        }
        let unpublished = tenure_store::outbox::depth(client).await?;
        if lag == 0 && unpublished == 0 {
            // Quiet twice in a row: nothing more is coming back from the outbox.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let again = topics::end_offsets(bootstrap, topics::LIFECYCLE).await?;
            if again == ends {
                return Ok(ends.iter().map(|(_, e)| e).sum());
            }
        }
        anyhow::ensure!(
            started.elapsed() < limit,
            "the pipeline did not settle within {limit:?} (lag {lag}, outbox {unpublished})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Measures each component's peak memory after it handled `years` of history of an
/// organisation of `people` people.
pub async fn measure(
    database_url: &str,
    storage: &str,
    people: usize,
    years: u32,
) -> anyhow::Result<Footprint> {
    Database::drop_database(database_url).await?;
    let db = Database::connect(database_url).await?;
    let broker = services::start_embedded_broker(storage, 0, None).await?;
    let bootstrap = broker.bootstrap().to_owned();
    let policy = services::load_policy(None)?;
    let (mut hr, mut itsm) = (Vec::new(), Vec::new());
    let cfg = OrgConfig::new(people, years, 7, chrono::Utc::now());
    generate(&cfg, &policy, false, |batch| {
        for item in batch {
            if let Generated::Source(r) = item {
                match r.channel {
                    Channel::Hr => hr.push(r.json.to_string()),
                    Channel::Itsm => itsm.push(r.json.to_string()),
                    Channel::Outcome => {}
                }
            }
        }
        anyhow::Ok(())
    })?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let listen = format!("127.0.0.1:{port}");
    let ingest = spawn(database_url, &bootstrap, &["ingest", "--listen", &listen])?;
    let projector = spawn(database_url, &bootstrap, &["projector"])?;
    let reactor = spawn(
        database_url,
        &bootstrap,
        &["reactor", "--brake-minimum", "1000000000"],
    )?;
    let http = reqwest::Client::new();
    let base = format!("http://{listen}");
    let started = Instant::now();
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(30),
            "ingest did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let limit = Duration::from_secs(900);
    // People first, so that every owner the accounts and requests name is known
    // (projected) when they arrive; every event of an account (its registration names
    // an owner) after them, in order, so none precedes its registration.
    let employee = |line: &str| {
        serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .and_then(|v| v["employee_id"].as_str().map(str::to_owned))
    };
    let account_ids: std::collections::HashSet<String> = hr
        .iter()
        .filter(|l| l.contains("\"owner\""))
        .filter_map(|l| employee(l))
        .collect();
    let (accounts, people_lines): (Vec<String>, Vec<String>) = hr
        .iter()
        .cloned()
        .partition(|l| employee(l).is_some_and(|id| account_ids.contains(&id)));
    let people_lines = joiners_first(people_lines, employee);
    let mut refused = post_all(&http, &format!("{base}/v1/hr/events"), &people_lines).await?;
    settle(&db, &bootstrap, limit).await?;
    refused += post_all(&http, &format!("{base}/v1/hr/events"), &accounts).await?;
    refused += post_all(&http, &format!("{base}/v1/itsm/events"), &itsm).await?;
    let log_records = settle(&db, &bootstrap, limit).await?;
    let footprint = Footprint {
        people,
        years,
        log_records,
        posted: hr.len() + itsm.len(),
        refused,
        ingest_peak_mib: peak_mib(ingest.0.id())?,
        projector_peak_mib: peak_mib(projector.0.id())?,
        reactor_peak_mib: peak_mib(reactor.0.id())?,
    };
    drop((ingest, projector, reactor));
    broker.stop().await;
    Ok(footprint)
}
