//! `tenure bench`: Tenure's speeds measured beside the raw limits of the same broker
//! and the same PostgreSQL, in the same run, so every figure comes with its ratio.

use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;
use tenure_kafka::{Publisher, topics};
use tenure_store::Database;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;

use crate::cli::{BenchArgs, ConnectArgs};
use crate::{services, shutdown, sql};

/// One measured figure.
#[derive(Serialize)]
struct Figure {
    name: String,
    value: f64,
    unit: &'static str,
    /// The raw limit this figure is compared with, and the ratio to it.
    compared_with: Option<&'static str>,
    ratio: Option<f64>,
}

#[derive(Serialize)]
struct Report {
    machine: String,
    broker_storage: String,
    events: usize,
    people: usize,
    figures: Vec<Figure>,
    /// Whether the bench's replay matched the live projection's checksum (absent when
    /// the throughput phase did not run).
    replay_equal: Option<bool>,
    footprints: Vec<crate::footprint::Footprint>,
    goals: Vec<Goal>,
}

impl Figure {
    /// A figure compared with nothing.
    fn plain(name: &str, value: f64, unit: &'static str) -> Figure {
        Figure {
            name: name.to_owned(),
            value,
            unit,
            compared_with: None,
            ratio: None,
        }
    }
}

fn rate(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(1e-9)
}

fn machine() -> String {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_owned())
        })
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| format!("{:.0} GiB", kb as f64 / 1024.0 / 1024.0))
        .unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    format!("{cores} cores, {memory}, {cpu}")
}

/// Appends the history to the log with as many sends in flight as the producer allows.
/// The first event is sent before the clock starts, so connecting to the broker is not
/// counted (ingest, compared with this, is measured already connected).
async fn produce(
    publisher: &Publisher,
    events: &[tenure_core::LifecycleEvent],
) -> anyhow::Result<Duration> {
    let Some((first, events)) = events.split_first() else {
        return Ok(Duration::ZERO);
    };
    publisher.send_event(first).await?;
    let started = Instant::now();
    let mut sends = futures::stream::iter(events.iter().map(|e| publisher.send_event(e)))
        .buffer_unordered(20_000);
    while let Some(result) = sends.next().await {
        result?;
    }
    Ok(started.elapsed())
}

/// The storage for one phase of the bench, empty: memory storage is new with every
/// broker; a durable `sqlite://DIR/NAME.db` becomes `DIR/NAME-PHASE.db`, deleted first.
fn fresh_storage(storage: &str, phase: &str) -> anyhow::Result<String> {
    let Some(file) = tenure_kafka::tansu_sqlite::sqlite_file(storage) else {
        return Ok(storage.to_owned());
    };
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "broker".into());
    let phase_file = file.with_file_name(format!("{stem}-{phase}.db"));
    for suffix in ["", "-wal", "-shm"] {
        let mut path = phase_file.clone().into_os_string();
        path.push(suffix);
        let _ = std::fs::remove_file(path);
    }
    if let Some(dir) = phase_file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    Ok(format!("sqlite://{}", phase_file.display()))
}

/// Reads the whole log with a plain consumer: the broker's raw consume rate.
async fn consume_all(bootstrap: &str) -> anyhow::Result<(usize, Duration)> {
    let ends = topics::end_offsets(bootstrap, topics::LIFECYCLE).await?;
    let bootstrap = bootstrap.to_owned();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = tenure_kafka::client_config(&bootstrap)
            .set("group.id", "tenure-bench-raw")
            .set("enable.auto.commit", "false")
            .create()?;
        let mut tpl = TopicPartitionList::new();
        for (p, _) in &ends {
            tpl.add_partition_offset(topics::LIFECYCLE, *p, Offset::Beginning)?;
        }
        consumer.assign(&tpl)?;
        let total: i64 = ends.iter().map(|(_, e)| e).sum();
        let started = Instant::now();
        // The clock runs from the first record, so joining the broker is not counted.
        let mut first: Option<Instant> = None;
        let mut count = 0usize;
        while (count as i64) < total {
            if let Some(m) = consumer.poll(Duration::from_millis(500)) {
                m?;
                first.get_or_insert_with(Instant::now);
                count += 1;
            } else if started.elapsed() > Duration::from_secs(600) {
                anyhow::bail!("raw consume read only {count} of {total} records");
            }
        }
        Ok((count, first.map_or(started, |f| f).elapsed()))
    })
    .await?
}

/// Binary COPY of grant-like rows (uuid primary key): PostgreSQL's raw write rate.
async fn copy_rows(db: &Database, rows: usize) -> anyhow::Result<Duration> {
    let mut client = db.client().await?;
    client.batch_execute(sql::DROP_COPY_TABLE_IF_EXISTS).await?;
    client.batch_execute(sql::CREATE_COPY_TABLE).await?;
    let started = Instant::now();
    let txn = client.transaction().await?;
    let sink = txn.copy_in(sql::COPY_ROWS).await?;
    let writer = BinaryCopyInWriter::new(
        sink,
        &[
            Type::UUID,
            Type::UUID,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TIMESTAMPTZ,
        ],
    );
    futures::pin_mut!(writer);
    let now = chrono::Utc::now();
    for i in 0..rows {
        let grant = uuid::Uuid::from_u128(i as u128 + 1);
        let identity = uuid::Uuid::from_u128((i / 7) as u128 + 1);
        let resource = format!("res-{}", i % 50);
        writer
            .as_mut()
            .write(&[&grant, &identity, &"github", &resource, &"user", &now])
            .await?;
    }
    writer.finish().await?;
    txn.commit().await?;
    let elapsed = started.elapsed();
    client.batch_execute(sql::DROP_COPY_TABLE).await?;
    Ok(elapsed)
}

/// Projects the whole log from scratch with one in-process projector.
async fn project(db: &Database, bootstrap: &str, events: usize) -> anyhow::Result<Duration> {
    let (stop, stopped) = shutdown::channel();
    let started = Instant::now();
    let (owned_bootstrap, projector_db) = (bootstrap.to_owned(), db.clone());
    let projector = tokio::spawn(async move {
        tenure_projector::run(&owned_bootstrap, projector_db, stopped).await
    });
    let ends = topics::end_offsets(bootstrap, topics::LIFECYCLE).await?;
    loop {
        let client = db.client().await?;
        let client: &tokio_postgres::Client = &client;
        let lag =
            tenure_store::offsets::lag(client, tenure_projector::GROUP, topics::LIFECYCLE, &ends)
                .await?;
        if lag == 0 {
            break;
        }
        if projector.is_finished() {
            anyhow::bail!("the projector stopped before catching up");
        }
        if started.elapsed() > Duration::from_secs(1800) {
            anyhow::bail!(
                "the projector did not project {events} events within 30 minutes (lag {lag})"
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed();
    let _ = stop.send(true);
    projector.await??;
    Ok(elapsed)
}

/// NDJSON lines for HTTP ingest: joiners for new people, then access requests
/// fulfilled for them (owned by `owner`, a person the projection knows), a mover
/// and a leaver for some; `count` lines in batches of `batch`.
fn ingest_batches(count: usize, batch: usize, owner: &str) -> Vec<String> {
    let now = chrono::Utc::now();
    let hired = (now - chrono::Duration::days(400)).to_rfc3339();
    let granted = (now - chrono::Duration::days(1)).to_rfc3339();
    let expires = (now + chrono::Duration::days(20)).to_rfc3339();
    let roles = ["engineer", "sales", "finance"];
    let lines: Vec<String> = (0..count)
        .map(|n| {
            let person = format!("B{:07}", n / 4);
            match n % 4 {
                0 => serde_json::json!({"event_id": format!("b-{n}"), "type": "joiner", "employee_id": person,
                    "role": roles[n % 3], "department": "bench", "effective_time": hired}),
                1 => serde_json::json!({"event_id": format!("b-{n}"), "type": "access_fulfilled",
                    "request_id": format!("BR-{n}"), "employee_id": person, "entitlement": "github:acme:write",
                    "owner": owner, "business_reason": "bench", "effective_time": granted,
                    "revocation": {"expires_at": expires}}),
                2 => serde_json::json!({"event_id": format!("b-{n}"), "type": "mover", "employee_id": person,
                    "role": roles[(n + 1) % 3], "effective_time": granted}),
                _ => serde_json::json!({"event_id": format!("b-{n}"), "type": "leaver", "employee_id": person,
                    "effective_time": now.to_rfc3339()}),
            }
            .to_string()
        })
        .collect();
    // HR lines and ITSM lines go to their own endpoints: keep them apart per batch.
    lines
        .chunks(batch)
        .map(|chunk| chunk.join("\n") + "\n")
        .collect()
}

/// An active employee from the projected history, to own the access the bench grants.
async fn active_employee(db: &Database) -> anyhow::Result<String> {
    Ok(db
        .client()
        .await?
        .query_one(sql::ACTIVE_EMPLOYEE, &[])
        .await
        .context("the bench needs an active person from the projected history as owner")?
        .get(0))
}

/// HTTP ingest throughput: NDJSON batches posted with a few in flight to a running
/// ingest service (credentials off, owner directory on), counted until every event
/// is acknowledged by the broker.
async fn ingest_http(db: &Database, bootstrap: &str, count: usize) -> anyhow::Result<Duration> {
    let owner = active_employee(db).await?;
    let (stop, stopped) = shutdown::channel();
    let mut tasks = tokio::task::JoinSet::new();
    let selection = services::Selection {
        ingest: true,
        projector: false,
        reactor: false,
    };
    let rules = services::Rules {
        policy: services::load_policy(None)?,
        retry: Default::default(),
        brake: Default::default(),
        credentials: Default::default(),
        check_owners: true,
        ingest_timeout: services::INGEST_TIMEOUT,
        admin_listen: None,
        command_topics: Default::default(),
    };
    let addr = services::spawn(
        &mut tasks,
        selection,
        bootstrap,
        db,
        rules,
        Some("127.0.0.1:0".parse()?),
        &stopped,
    )
    .await?
    .context("ingest did not start")?;
    let http = reqwest::Client::new();
    let (hr, itsm) = (
        format!("http://{addr}/v1/hr/events"),
        format!("http://{addr}/v1/itsm/events"),
    );
    // One batch per endpoint and kind: split the lines by the endpoint they belong to.
    let mut bodies = Vec::new();
    for body in ingest_batches(count, 1_000, &owner) {
        let (mut hr_lines, mut itsm_lines) = (String::new(), String::new());
        for line in body.lines() {
            let target = if line.contains("\"access_fulfilled\"") {
                &mut itsm_lines
            } else {
                &mut hr_lines
            };
            target.push_str(line);
            target.push('\n');
        }
        bodies.push((hr.clone(), hr_lines));
        bodies.push((itsm.clone(), itsm_lines));
    }
    let started = Instant::now();
    let mut posts = futures::stream::iter(bodies.into_iter().map(|(url, body)| {
        let http = http.clone();
        async move {
            let response = http
                .post(url)
                .header("content-type", "application/x-ndjson")
                .body(body)
                .send()
                .await?;
            anyhow::ensure!(
                response.status() == 202,
                "ingest refused a bench batch: {}",
                response.text().await?
            );
            anyhow::Ok(())
        }
    }))
    .buffer_unordered(4);
    while let Some(result) = posts.next().await {
        result?;
    }
    let elapsed = started.elapsed();
    let _ = stop.send(true);
    while tasks.join_next().await.is_some() {}
    Ok(elapsed)
}

/// What the throughput phase measured.
struct Throughput {
    figures: Vec<Figure>,
    events: usize,
    replay_equal: bool,
}

/// People for about `events` events, from the generator's own events per person.
fn people_for_events(events: usize) -> usize {
    let sample = 1_000;
    let per_person = tenure_gen::synthetic_history(sample, 42).len() as f64 / sample as f64;
    ((events as f64 / per_person).round() as usize).max(1)
}

/// Produce, consume, COPY, projector, replay and HTTP ingest of one history, each
/// beside the raw limit it is compared with.
async fn throughput(
    connect: &ConnectArgs,
    args: &BenchArgs,
    people: usize,
) -> anyhow::Result<Throughput> {
    let url = crate::demo::with_database(&connect.database_url, "tenure_bench")?;
    Database::drop_database(&url)
        .await
        .with_context(|| format!("cannot reach PostgreSQL at {url}"))?;
    let db = Database::connect(&url).await?;
    let broker =
        services::start_embedded_broker(&fresh_storage(&args.storage, "main")?, 0, None).await?;
    let bootstrap = broker.bootstrap().to_owned();
    let history = tenure_gen::synthetic_history(people, 42);
    eprintln!(
        "bench: {} events for {people} people; broker storage {}",
        history.len(),
        args.storage
    );

    let publisher = Publisher::new(&bootstrap)?;
    let produced = produce(&publisher, &history).await?;
    eprintln!("bench: produced");
    let (consumed, consume_time) = consume_all(&bootstrap).await?;
    eprintln!("bench: consumed");
    let copy_time = copy_rows(&db, history.len()).await?;
    eprintln!("bench: copied");
    let project_time = project(&db, &bootstrap, history.len()).await?;
    eprintln!("bench: projected");
    let replayed =
        crate::replay::replay_and_verify(&url, &bootstrap, "bench_replay", None, false).await?;
    eprintln!(
        "bench: replayed (equal to the live projection: {})",
        replayed.equal
    );
    let ingest_count = history.len();
    let ingest_time = ingest_http(&db, &bootstrap, ingest_count).await?;
    eprintln!("bench: ingested over HTTP");

    let produce_rate = rate(history.len() - 1, produced);
    let consume_rate = rate(consumed, consume_time);
    let copy_rate = rate(history.len(), copy_time);
    let project_rate = rate(history.len(), project_time);
    let floor = consume_rate.min(copy_rate);
    let floor_name = if consume_rate <= copy_rate {
        "raw consume"
    } else {
        "PostgreSQL COPY"
    };
    let figures = vec![
        Figure::plain("raw produce (acks=all)", produce_rate, "events/s"),
        Figure::plain("raw consume", consume_rate, "events/s"),
        Figure::plain("PostgreSQL COPY (grant-like rows)", copy_rate, "rows/s"),
        Figure {
            name: "projector".into(),
            value: project_rate,
            unit: "events/s",
            compared_with: Some(floor_name),
            ratio: Some(project_rate / floor),
        },
        Figure {
            name: "replay into a fresh schema".into(),
            value: replayed.records_per_second,
            unit: "events/s",
            compared_with: Some(floor_name),
            ratio: Some(replayed.records_per_second / floor),
        },
        Figure {
            name: "HTTP ingest (NDJSON, 1000/batch)".into(),
            value: rate(ingest_count, ingest_time),
            unit: "events/s",
            compared_with: Some("raw produce"),
            ratio: Some(rate(ingest_count, ingest_time) / produce_rate),
        },
    ];
    drop(publisher);
    broker.stop().await;
    Ok(Throughput {
        figures,
        events: history.len(),
        replay_equal: replayed.equal,
    })
}

/// Time to command for leavers and expiries at each background rate, then at the
/// first rate beside a replay; each run also times leavers until their access is gone.
async fn latencies(
    connect: &ConnectArgs,
    args: &BenchArgs,
    rates: &[usize],
) -> anyhow::Result<Vec<Figure>> {
    let latency_url = crate::demo::with_database(&connect.database_url, "tenure_bench_latency")?;
    let latency_people = if args.quick { 1_000 } else { 5_000 };
    let mut runs: Vec<(usize, bool)> = rates.iter().map(|r| (*r, false)).collect();
    runs.extend(rates.first().map(|r| (*r, true)));
    let mut figures = Vec::new();
    for (background, beside_replay) in runs {
        let setting = if beside_replay {
            format!("at {background} events/s beside a replay")
        } else {
            format!("at {background} events/s")
        };
        eprintln!("bench: measuring time-to-command {setting}");
        let measured = crate::latency::measure(
            &latency_url,
            &fresh_storage(&args.storage, "latency")?,
            latency_people,
            background,
            beside_replay,
        )
        .await?;
        let mut kinds = vec![("time to command: leaver", &measured.leavers)];
        let stages: Vec<(String, &crate::latency::Latency)> = measured
            .leaver_stages
            .iter()
            .map(|(stage, l)| (format!("leaver stage: {stage}"), l))
            .collect();
        if !beside_replay {
            kinds.push(("time to command: expiry", &measured.expiries));
            kinds.push(("leaver to PostgreSQL membership gone", &measured.removals));
            kinds.extend(stages.iter().map(|(name, l)| (name.as_str(), *l)));
        }
        for (name, l) in kinds {
            for (stat, value) in [("p50", l.p50_ms), ("p99", l.p99_ms), ("max", l.max_ms)] {
                figures.push(Figure::plain(
                    &format!("{name} {stat} {setting} ({} samples)", l.samples),
                    value,
                    "ms",
                ));
            }
        }
    }
    Ok(figures)
}

/// Peak memory of each service over the same organisation's history at each length
/// in `years`: the log grows with the years, and memory must not follow it.
async fn footprints(
    connect: &ConnectArgs,
    args: &BenchArgs,
) -> anyhow::Result<(Vec<Figure>, Vec<crate::footprint::Footprint>)> {
    let rss_people = if args.quick { 300 } else { 4_000 };
    let mut figures = Vec::new();
    let mut footprints = Vec::new();
    for &years in &args.years {
        eprintln!("bench: measuring peak memory with {years} years of history");
        let rss_url = crate::demo::with_database(
            &connect.database_url,
            &format!("tenure_bench_rss_{years}y"),
        )?;
        let f = crate::footprint::measure(
            &rss_url,
            &fresh_storage(&args.storage, &format!("footprint-{years}y"))?,
            rss_people,
            years,
        )
        .await?;
        for (component, mib) in [
            ("ingest", f.ingest_peak_mib),
            ("projector", f.projector_peak_mib),
            ("reactor", f.reactor_peak_mib),
        ] {
            figures.push(Figure::plain(
                &format!(
                    "peak RSS {component}, {}y history, {} records",
                    f.years, f.log_records
                ),
                mib,
                "MiB",
            ));
        }
        footprints.push(f);
    }
    Ok((figures, footprints))
}

/// One of the performance goals (issue 17) beside the figure that meets it or not.
#[derive(Serialize)]
struct Goal {
    goal: String,
    figure: f64,
    target: String,
    met: bool,
}

/// Each goal whose figure this run measured.
fn goals(figures: &[Figure], footprints: &[crate::footprint::Footprint]) -> Vec<Goal> {
    let mut goals = Vec::new();
    let find = |name: &str| figures.iter().find(|f| f.name == name);
    for (name, goal, least) in [
        ("projector", "projector ÷ min(raw consume, raw COPY)", 0.8),
        (
            "replay into a fresh schema",
            "replay ÷ min(raw consume, raw COPY)",
            0.8,
        ),
        (
            "HTTP ingest (NDJSON, 1000/batch)",
            "HTTP ingest ÷ raw produce",
            0.9,
        ),
    ] {
        if let Some(ratio) = find(name).and_then(|f| f.ratio) {
            goals.push(Goal {
                goal: goal.into(),
                figure: ratio,
                target: format!("≥ {least}"),
                met: ratio >= least,
            });
        }
    }
    for f in figures.iter().filter(|f| f.name.contains(" p99 ")) {
        let bound = if f.name.contains("beside a replay") {
            100.0
        } else if f.name.starts_with("time to command") {
            50.0
        } else {
            continue;
        };
        goals.push(Goal {
            goal: f.name.clone(),
            figure: f.value,
            target: format!("< {bound} ms"),
            met: f.value < bound,
        });
    }
    let shortest = footprints.iter().min_by_key(|f| f.years);
    let longest = footprints.iter().max_by_key(|f| f.years);
    if let (Some(short), Some(long)) = (shortest, longest)
        && long.years > short.years
    {
        for (component, growth) in [
            (
                "projector",
                long.projector_peak_mib / short.projector_peak_mib,
            ),
            ("reactor", long.reactor_peak_mib / short.reactor_peak_mib),
        ] {
            goals.push(Goal {
                goal: format!(
                    "peak RSS {component}, {}y ÷ {}y of history",
                    long.years, short.years
                ),
                figure: growth,
                target: "≤ 1.2".into(),
                met: growth <= 1.2,
            });
        }
    }
    goals
}

/// Runs the benchmark and prints the table; writes the same as JSON.
pub async fn run(connect: &ConnectArgs, args: BenchArgs) -> anyhow::Result<()> {
    use crate::cli::BenchPhase;
    let runs = |phase: BenchPhase| args.only.is_empty() || args.only.contains(&phase);
    let people = match (args.events, args.people) {
        (Some(events), _) => people_for_events(events),
        (None, Some(people)) => people,
        (None, None) if args.quick => 2_000,
        (None, None) => 15_000,
    };
    let rates = if !args.background_rates.is_empty() {
        args.background_rates.clone()
    } else if args.quick {
        vec![200]
    } else {
        vec![200, 1_000]
    };
    let mut figures = Vec::new();
    let mut events = 0;
    let mut replay_equal = None;
    if runs(BenchPhase::Throughput) {
        let measured = throughput(connect, &args, people).await?;
        figures.extend(measured.figures);
        events = measured.events;
        replay_equal = Some(measured.replay_equal);
    }
    if runs(BenchPhase::Latency) {
        figures.extend(latencies(connect, &args, &rates).await?);
    }
    let mut footprints = Vec::new();
    if runs(BenchPhase::Memory) {
        let (measured, prints) = self::footprints(connect, &args).await?;
        figures.extend(measured);
        footprints = prints;
    }
    let goals = goals(&figures, &footprints);
    let report = Report {
        machine: machine(),
        broker_storage: args.storage.clone(),
        events,
        people,
        figures,
        replay_equal,
        footprints,
        goals,
    };
    println!(
        "Tenure bench — {} events, {} people, broker tansu {} — {}",
        report.events, report.people, report.broker_storage, report.machine
    );
    println!(
        "  {:<62} {:>10}  {:<9} ratio to raw limit",
        "figure", "value", "unit"
    );
    for f in &report.figures {
        let ratio = match (f.compared_with, f.ratio) {
            (Some(name), Some(r)) => format!("{:.0}% of {name}", r * 100.0),
            _ => String::new(),
        };
        println!(
            "  {:<62} {:>10.0}  {:<9} {}",
            f.name, f.value, f.unit, ratio
        );
    }
    if !report.goals.is_empty() {
        println!("  goals");
        for g in &report.goals {
            println!(
                "  {:<62} {:>10.2}  {:<9} {}",
                g.goal,
                g.figure,
                g.target,
                if g.met { "met" } else { "NOT met" }
            );
        }
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from("target/bench/latest.json"));
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&out, serde_json::to_string_pretty(&report)?)?;
    println!("  (written to {})", out.display());
    Ok(())
}
