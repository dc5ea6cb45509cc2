//! Faults and soak on the default, durable storage: `tenure run` with its embedded
//! tansu broker on `sqlite://FILE`, as an operator runs it. The suite proves that:
//! - sustained load (200 requests/s for 30 s, then two 10,000-line batches) is
//!   accepted in full, every accepted event is on the log, and the projection holds
//!   each exactly once;
//! - input that cannot be stored is refused at the door naming the field, and a
//!   record no consumer can process is parked in `dead_letters` while later records
//!   flow (visible in `/metrics` and `tenure dead-letters list`);
//! - after SIGKILL of the whole process no broker is left behind, and a restart on
//!   the same storage, database and ports works again within 15 seconds, losing
//!   nothing that was accepted;
//! - with the broker killed, ingest answers within its bound, and the supervisor
//!   brings the broker back without losing an accepted event;
//! - SCIM changes sent back to back end as the last request says.

use std::collections::{HashMap, HashSet};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use chrono::Utc;
use serde_json::{Value, json};
use tenure_core::{Attributes, EventId, EventPayload, IdentityId, LifecycleEvent, ids};
use tenure_kafka::{BrokerKind, Publisher, topics};
use tenure_store::Database;
use tenure_tests::{eventually, log_dir, pg_server, read_topic, tenure_binary};

/// The projector's consumer group.
const PROJECTOR: &str = tenure_projector::GROUP;
/// A role the default policy does not know: joiners are projected, and the reactor
/// has no birthright access to grant, so the load stays on the path under test.
const ROLE: &str = "engineer";
const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

// ---------------------------------------------------------------------------------
// A durable environment: its own database, broker file and ports.

/// One test's database, durable broker storage and fixed ports, kept across restarts.
struct Durable {
    name: &'static str,
    dir: PathBuf,
    storage: String,
    database_url: String,
    db: Database,
    broker_port: u16,
    api_port: u16,
}

/// Two distinct free TCP ports.
fn free_ports() -> anyhow::Result<(u16, u16)> {
    let a = std::net::TcpListener::bind("127.0.0.1:0")?;
    let b = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok((a.local_addr()?.port(), b.local_addr()?.port()))
}

impl Durable {
    /// A fresh, migrated database and an empty directory for the broker's file.
    async fn new(name: &'static str) -> anyhow::Result<Durable> {
        let dir = std::env::temp_dir().join(format!("tenure-faults-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let database_url = format!("{}/tenure_test_faults_{name}", pg_server());
        Database::drop_database(&database_url).await?;
        let db = Database::connect(&database_url).await?;
        let (broker_port, api_port) = free_ports()?;
        let env = Durable {
            name,
            storage: format!("sqlite://{}", dir.join("broker.db").display()),
            dir,
            database_url,
            db,
            broker_port,
            api_port,
        };
        let _ = std::fs::remove_file(env.log());
        Ok(env)
    }

    fn log(&self) -> PathBuf {
        log_dir().join(format!("faults-{}.log", self.name))
    }

    fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.broker_port)
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }

    /// Spawns `tenure run` with its embedded broker (no KAFKA_BOOTSTRAP_SERVERS).
    fn spawn(&self) -> anyhow::Result<Tenure> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())?;
        let listen = format!("127.0.0.1:{}", self.api_port);
        let port = self.broker_port.to_string();
        let child = Command::new(tenure_binary()?)
            .args(["run", "--listen", &listen, "--storage", &self.storage])
            .args(["--broker-port", &port])
            .env("DATABASE_URL", &self.database_url)
            .env("TENURE_LOG", "info")
            .env("TENURE_METRICS_REFRESH_SECS", "0")
            .env_remove("KAFKA_BOOTSTRAP_SERVERS")
            .env_remove("TENURE_BROKER_KIND")
            .env_remove("TENURE_INGEST_TIMEOUT_SECS")
            // Nothing the broker writes lands outside the test's own directory.
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("cannot start the tenure binary")?;
        Ok(Tenure {
            child: std::sync::Mutex::new(child),
        })
    }

    /// Starts `tenure run` and waits until its HTTP API answers.
    async fn start(&self) -> anyhow::Result<Tenure> {
        let tenure = self.spawn()?;
        let http = client();
        let url = format!("{}/healthz", self.base());
        let started = Instant::now();
        loop {
            if let Err(e) = tenure.assert_running() {
                let log = std::fs::read_to_string(self.log()).unwrap_or_default();
                let tail: Vec<String> = log.lines().rev().take(2).map(plain).collect();
                bail!("{e}: {tail:?}");
            }
            if let Ok(r) = http.get(&url).send().await
                && r.status().is_success()
            {
                break;
            }
            if started.elapsed() > Duration::from_secs(90) {
                bail!(
                    "tenure run did not answer within 90 s; see {}",
                    self.log().display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let file = self.dir.join("broker.db");
        ensure!(
            file.is_file(),
            "the broker did not keep its log in {} (storage {})",
            file.display(),
            self.storage
        );
        Ok(tenure)
    }

    /// Runs `tenure ARGS` to completion against the database and returns its output.
    async fn cli(&self, args: &[&str]) -> anyhow::Result<String> {
        let output = tokio::process::Command::new(tenure_binary()?)
            .args(args)
            .env("DATABASE_URL", &self.database_url)
            .env_remove("KAFKA_BOOTSTRAP_SERVERS")
            .env("TENURE_BROKER_KIND", "tansu")
            .stdin(Stdio::null())
            .output()
            .await?;
        ensure!(
            output.status.success(),
            "tenure {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(String::from_utf8(output.stdout)?)
    }

    /// How many of `ids` the projector's journal holds.
    async fn projected(&self, ids: &[EventId]) -> anyhow::Result<usize> {
        let client = self.db.client().await?;
        let count: i64 = client
            .query_one(
                "SELECT count(*) FROM projection_events WHERE event_id = ANY($1)",
                &[&ids],
            )
            .await?
            .get(0);
        Ok(count as usize)
    }

    /// Waits until the journal holds every one of `ids`; returns how long it took.
    async fn wait_projected(
        &self,
        ids: &HashSet<EventId>,
        limit: Duration,
    ) -> anyhow::Result<Duration> {
        let ids: Vec<EventId> = ids.iter().copied().collect();
        let started = Instant::now();
        loop {
            let done = self.projected(&ids).await?;
            if done == ids.len() {
                return Ok(started.elapsed());
            }
            if started.elapsed() > limit {
                bail!(
                    "only {done} of {} accepted events projected after {limit:?}",
                    ids.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The distinct events the log holds for `identity` and whether the journal has
    /// them all (so what the projection shows is final).
    async fn settled(&self, identity: IdentityId) -> anyhow::Result<Option<Vec<LifecycleEvent>>> {
        let mut seen = HashSet::new();
        let events: Vec<LifecycleEvent> = read_topic(&self.bootstrap(), topics::LIFECYCLE)
            .await?
            .iter()
            .filter_map(|r| tenure_proto::decode_event(&r.payload).ok())
            .filter(|e| e.identity_id == identity && seen.insert(e.event_id))
            .collect();
        let ids: Vec<EventId> = events.iter().map(|e| e.event_id).collect();
        Ok((self.projected(&ids).await? == ids.len()).then_some(events))
    }

    async fn metrics(&self) -> anyhow::Result<String> {
        Ok(client()
            .get(format!("{}/metrics", self.base()))
            .send()
            .await?
            .text()
            .await?)
    }
}

/// `line` without its terminal colour codes.
fn plain(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|c| c.is_ascii_alphabetic());
        } else {
            out.push(c);
        }
    }
    out
}

/// A `tenure run` process, SIGKILLed when dropped.
struct Tenure {
    child: std::sync::Mutex<Child>,
}

impl Tenure {
    fn child(&self) -> std::sync::MutexGuard<'_, Child> {
        self.child.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn pid(&self) -> u32 {
        self.child().id()
    }

    /// SIGKILL, as a crash would, and reap.
    fn kill(&self) {
        let mut child = self.child();
        let _ = child.kill();
        let _ = child.wait();
    }

    fn assert_running(&self) -> anyhow::Result<()> {
        if let Some(status) = self.child().try_wait()? {
            bail!("tenure run exited early with {status}; see target/test-logs");
        }
        Ok(())
    }
}

impl Drop for Tenure {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The child processes of `pid` (every thread's children).
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|s| {
            s.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// The embedded broker process of `tenure`.
fn tansu_of(tenure: &Tenure) -> anyhow::Result<u32> {
    children(tenure.pid())
        .into_iter()
        .find(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "tansu")
        })
        .with_context(|| format!("no tansu child of tenure (pid {})", tenure.pid()))
}

/// Whether a process is alive (a zombie counts as gone).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

fn answers_on(port: u16) -> bool {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

// ---------------------------------------------------------------------------------
// HTTP.

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("reqwest client")
}

/// An HR joiner for `person` under the HR event id `event_id`.
fn joiner(event_id: &str, person: &str) -> Value {
    json!({"event_id": event_id, "type": "joiner", "employee_id": person, "role": ROLE,
           "display_name": format!("Person {person}"),
           "effective_time": "2025-01-06T09:00:00Z"})
}

/// The event id ingest gives HR event `event_id`.
fn hr_id(event_id: &str) -> EventId {
    ids::event("hr", event_id)
}

async fn answer(response: reqwest::Response) -> anyhow::Result<(u16, Value)> {
    let status = response.status().as_u16();
    let text = response.text().await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

async fn post_hr(http: &reqwest::Client, base: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
    answer(
        http.post(format!("{base}/v1/hr/events"))
            .json(body)
            .send()
            .await?,
    )
    .await
}

async fn post_ndjson(
    http: &reqwest::Client,
    base: &str,
    lines: &[Value],
) -> anyhow::Result<(u16, Value)> {
    let body: String = lines.iter().map(|l| l.to_string() + "\n").collect();
    answer(
        http.post(format!("{base}/v1/hr/events"))
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
            .await?,
    )
    .await
}

async fn scim(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> anyhow::Result<(u16, Value)> {
    let mut request = http.request(method, url);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/scim+json")
            .body(body.to_string());
    }
    answer(request.send().await?).await
}

/// The `event_ids` of a 202 answer.
fn event_ids(body: &Value) -> Vec<EventId> {
    body["event_ids"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|i| i.as_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The fields a refusal names.
fn fields(body: &Value) -> Vec<String> {
    body["problems"]
        .as_array()
        .map(|p| {
            p.iter()
                .filter_map(|p| p["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// One request's label, how long its answer took, and the answer.
struct Sent {
    label: String,
    took: Duration,
    answer: anyhow::Result<(u16, Value)>,
}

/// Sends a request and times its answer.
async fn timed(
    label: String,
    request: impl std::future::Future<Output = anyhow::Result<(u16, Value)>>,
) -> Sent {
    let started = Instant::now();
    let answer = request.await;
    Sent {
        label,
        took: started.elapsed(),
        answer,
    }
}

/// Outcomes of requests: accepted ids, and every other outcome described.
#[derive(Default)]
struct Outcomes {
    accepted: HashSet<EventId>,
    requests_accepted: usize,
    others: Vec<String>,
}

impl Outcomes {
    fn record(&mut self, sent: Sent) {
        let Sent {
            label,
            took,
            answer,
        } = sent;
        match answer {
            Ok((202, body)) => {
                self.requests_accepted += 1;
                self.accepted.extend(event_ids(&body));
            }
            Ok((status, body)) => self.others.push(format!(
                "{label}: {status} after {took:.1?}: {}",
                truncate(&body.to_string())
            )),
            Err(e) => self
                .others
                .push(format!("{label}: no answer after {took:.1?}: {e:#}")),
        }
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(300).collect()
}

/// Sends joiners `prefix-0..count` one request each, `per_second` a second, and
/// returns the spawned requests.
fn stream_singles(
    base: &str,
    prefix: &'static str,
    count: usize,
    per_second: u64,
) -> tokio::task::JoinHandle<Vec<tokio::task::JoinHandle<Sent>>> {
    let base = base.to_owned();
    tokio::spawn(async move {
        let http = client();
        let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / per_second));
        let mut requests = Vec::with_capacity(count);
        for i in 0..count {
            tick.tick().await;
            let (http, base) = (http.clone(), base.clone());
            requests.push(tokio::spawn(async move {
                let (event_id, person) = (format!("{prefix}-{i}"), format!("{prefix}{i}"));
                timed(
                    format!("single {event_id}"),
                    post_hr(&http, &base, &joiner(&event_id, &person)),
                )
                .await
            }));
        }
        requests
    })
}

async fn collect(
    requests: Vec<tokio::task::JoinHandle<Sent>>,
    outcomes: &mut Outcomes,
) -> anyhow::Result<()> {
    for r in requests {
        outcomes.record(r.await?);
    }
    Ok(())
}

/// Posts `count` joiners `prefix-0..count` as one NDJSON batch.
async fn post_batch(http: &reqwest::Client, base: &str, prefix: &str, count: usize) -> Sent {
    let lines = batch(prefix, count);
    timed(
        format!("batch {prefix} ({count} lines)"),
        post_ndjson(http, base, &lines),
    )
    .await
}

fn batch(prefix: &str, count: usize) -> Vec<Value> {
    (0..count)
        .map(|i| joiner(&format!("{prefix}-{i}"), &format!("{prefix}{i}")))
        .collect()
}

// ---------------------------------------------------------------------------------
// The tests.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn load_on_durable_storage() -> anyhow::Result<()> {
    let env = Durable::new("load").await?;
    let tenure = env.start().await?;
    let base = env.base();
    let http = client();
    let started = Instant::now();

    // 200 single joiners a second for 60 seconds.
    let singles = stream_singles(&base, "load-s", 12_000, 200).await?;
    let mut outcomes = Outcomes::default();
    collect(singles, &mut outcomes).await?;
    // Then two 10,000-line batches, back to back.
    for prefix in ["load-b1", "load-b2"] {
        outcomes.record(post_batch(&http, &base, prefix, 10_000).await);
    }
    let sent = started.elapsed();
    tenure.assert_running()?;
    for refused in &outcomes.others {
        eprintln!("refused: {refused}");
    }

    // What was accepted is projected, each event once, and is on the log.
    let catch_up = env
        .wait_projected(&outcomes.accepted, Duration::from_secs(120))
        .await?;
    let accepted: Vec<EventId> = outcomes.accepted.iter().copied().collect();
    let projected = env.projected(&accepted).await?;
    assert_eq!(projected, accepted.len(), "accepted = projected");
    // tansu producers are not idempotent: a retried send may have written an event
    // twice; the projection still holds each once.
    let mut on_log: HashMap<EventId, usize> = HashMap::new();
    let bootstrap = env.bootstrap();
    let records = eventually(
        "the log to be readable",
        Duration::from_secs(60),
        || async { Ok(read_topic(&bootstrap, topics::LIFECYCLE).await.ok()) },
    )
    .await?;
    for record in records {
        let event = tenure_proto::decode_event(&record.payload)?;
        if event.source_system == "hr" {
            *on_log.entry(event.event_id).or_default() += 1;
        }
    }
    let logged: usize = on_log.values().sum();
    println!(
        "load: accepted {} events in {} requests ({} refused) over {sent:.1?}; logged {logged} hr \
         records ({} distinct, {} duplicates); projected {projected}; caught up {catch_up:.1?} \
         after the last answer",
        accepted.len(),
        outcomes.requests_accepted,
        outcomes.others.len(),
        on_log.len(),
        logged - on_log.len(),
    );
    let missing = accepted
        .iter()
        .filter(|id| !on_log.contains_key(id))
        .count();
    assert_eq!(missing, 0, "accepted events missing from the log");

    // And everything was accepted.
    assert_eq!(
        outcomes.others,
        Vec::<String>::new(),
        "every request must be accepted"
    );
    assert_eq!(outcomes.requests_accepted, 12_002);
    assert_eq!(accepted.len(), 32_000, "distinct accepted events");
    assert_eq!(
        on_log.len(),
        accepted.len(),
        "no hr event on the log that was not accepted"
    );
    tenure.assert_running()?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn poison_is_refused_or_parked_and_later_events_flow() -> anyhow::Result<()> {
    let env = Durable::new("poison").await?;
    let tenure = env.start().await?;
    let base = env.base();
    let http = client();

    // Refused at the door, naming the field.
    let with = |over: Value| {
        let mut event = joiner("poison-door", "P1");
        for (k, v) in over.as_object().unwrap() {
            event[k] = v.clone();
        }
        event
    };
    let cases = [
        (
            "NUL in display_name",
            with(json!({"display_name": "Ada\0Lovelace"})),
            "display_name",
        ),
        (
            "NUL in event_id",
            with(json!({"event_id": "poison\0id"})),
            "event_id",
        ),
        ("NUL in role", with(json!({"role": "eng\0ineer"})), "role"),
        (
            "year -5000",
            with(json!({"effective_time": "-5000-01-01T00:00:00Z"})),
            "effective_time",
        ),
        (
            "10 KB role",
            with(json!({"role": "r".repeat(10 * 1024)})),
            "role",
        ),
        (
            "2 MB display_name",
            with(json!({"display_name": "n".repeat(2 << 20)})),
            "display_name",
        ),
    ];
    for (case, body, field) in cases {
        let (status, refusal) = post_hr(&http, &base, &body).await?;
        let answer_text = truncate(&refusal.to_string());
        assert!(
            status == 400 || status == 422,
            "{case}: {status} {answer_text}"
        );
        assert!(
            fields(&refusal).iter().any(|f| f == field),
            "{case}: the refusal must name {field}: {answer_text}"
        );
    }
    let (status, refusal) = scim(
        &http,
        reqwest::Method::POST,
        &format!("{base}/scim/v2/Users"),
        Some(
            json!({"schemas": [USER_SCHEMA], "userName": "poison\0user", "active": true,
                    "roles": [{"value": ROLE, "primary": true}]}),
        ),
    )
    .await?;
    assert!(
        status == 400 || status == 422,
        "SCIM NUL userName: {status} {refusal}"
    );
    let detail = refusal["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("userName") || detail.contains("employee_id"),
        "SCIM NUL userName: the refusal must name the field: {refusal}"
    );
    eprintln!("SCIM refusal: {detail}");

    // Published straight to the log: parked, and what follows flows.
    tenure_kafka::flavour::declare(BrokerKind::Tansu);
    let publisher = Publisher::new(&env.bootstrap())?;
    let direct = |source_event_id: &str, person: &str, name: &str| {
        let now = Utc::now();
        LifecycleEvent {
            event_id: hr_id(source_event_id),
            identity_id: ids::identity(ids::PEOPLE, person),
            effective_time: now - chrono::Duration::days(1),
            recorded_time: now,
            source_system: "hr".into(),
            source_event_id: source_event_id.into(),
            causation_id: None,
            payload: EventPayload::IdentityJoined {
                kind: Default::default(),
                role: ROLE.into(),
                attributes: Attributes {
                    display_name: Some(name.into()),
                    ..Default::default()
                },
                source_person_id: person.into(),
            },
        }
    };
    // The poison goes alone: in one batch with a later joiner of the same person, the
    // projector folds both and only ever writes the later (storable) state.
    let poison = publisher
        .send_event(&direct("poison-log", "P2", "Null\0Byte"))
        .await?;
    eprintln!("poison at {poison:?}");
    let client = env.db.client().await?;
    eventually(
        "the projector to move past the poison record",
        Duration::from_secs(30),
        || async {
            let next: Option<i64> = client
                .query_opt(
                    "SELECT next_offset FROM consumer_offsets
                      WHERE consumer_group = $1 AND topic = $2 AND partition = $3",
                    &[&PROJECTOR, &topics::LIFECYCLE, &poison.partition],
                )
                .await?
                .map(|r| r.get(0));
            Ok(next.filter(|n| *n > poison.offset))
        },
    )
    .await?;
    let same = publisher
        .send_event(&direct("after-poison", "P2", "Fine"))
        .await?;
    let other = publisher
        .send_event(&direct("other-person", "P3", "Also fine"))
        .await?;
    assert_eq!(
        same.partition, poison.partition,
        "same identity, same partition"
    );
    let later: HashSet<EventId> = [hr_id("after-poison"), hr_id("other-person")].into();
    eprintln!("later events at {same:?} and {other:?}");
    env.wait_projected(&later, Duration::from_secs(30))
        .await
        .context("the events after the poison record")?;
    let parked = eventually("the poison record to be parked", Duration::from_secs(30), || async {
        let rows = client
            .query(
                "SELECT topic, partition, log_offset, error FROM dead_letters WHERE consumer_group = $1",
                &[&PROJECTOR],
            )
            .await?;
        Ok((!rows.is_empty()).then_some(rows))
    })
    .await?;
    assert_eq!(parked.len(), 1, "exactly one dead letter for {PROJECTOR}");
    let row = &parked[0];
    assert_eq!(row.get::<_, String>(0), topics::LIFECYCLE);
    assert_eq!(
        (row.get::<_, i32>(1), row.get::<_, i64>(2)),
        (poison.partition, poison.offset),
        "parked at the poison record's position"
    );
    let error: String = row.get(3);
    assert!(!error.trim().is_empty(), "the dead letter says why");
    eprintln!("parked: {error}");

    let metrics = env.metrics().await?;
    assert!(
        metrics
            .lines()
            .any(|l| l == "tenure_dead_letters{group=\"tenure-projector\"} 1"),
        "/metrics: {}",
        metrics
            .lines()
            .filter(|l| l.starts_with("tenure_dead_letters"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let listed = env.cli(&["dead-letters", "list"]).await?;
    let projector_lines: Vec<Value> = listed
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["consumer_group"] == PROJECTOR)
        .collect();
    assert_eq!(projector_lines.len(), 1, "dead-letters list:\n{listed}");
    assert_eq!(projector_lines[0]["offset"], poison.offset);

    // Sent back unchanged, the record is parked again at its new position: a retry
    // after a fix goes through the same door, and nothing loops.
    let bootstrap = env.bootstrap();
    let retried = env
        .cli(&["dead-letters", "--bootstrap", &bootstrap, "retry", "--all"])
        .await?;
    assert!(retried.contains("dead letter(s) sent back"), "{retried}");
    let again = eventually(
        "the retried poison record to be parked again",
        Duration::from_secs(30),
        || async {
            let rows = client
                .query(
                    "SELECT log_offset, retried_at IS NOT NULL FROM dead_letters
                      WHERE consumer_group = $1 ORDER BY id",
                    &[&PROJECTOR],
                )
                .await?;
            Ok((rows.len() == 2).then_some(rows))
        },
    )
    .await?;
    assert!(
        again[0].get::<_, bool>(1),
        "the first letter is marked retried"
    );
    assert!(!again[1].get::<_, bool>(1), "the second waits");
    assert!(
        again[1].get::<_, i64>(0) > poison.offset,
        "parked at its new position"
    );
    tenure.assert_running()?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_and_restart_recovers_within_seconds() -> anyhow::Result<()> {
    let env = Durable::new("sigkill").await?;
    let tenure = env.start().await?;
    let base = env.base();
    let http = client();
    let old_tansu = tansu_of(&tenure)?;

    // A batch and a stream of singles; the process is killed while they flow.
    let singles = stream_singles(&base, "kill-s", 200, 100);
    let ndjson = {
        let (http, base) = (http.clone(), base.clone());
        tokio::spawn(async move { post_batch(&http, &base, "kill-b", 1_000).await })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    tenure.kill();
    let killed = Instant::now();

    // Nothing of the first run is left: its broker dies with it.
    let port_closed = eventually(
        "the old broker port to close",
        Duration::from_secs(2),
        || async { Ok((!answers_on(env.broker_port)).then_some(())) },
    )
    .await;
    let tansu_gone = !alive(old_tansu);
    let mut outcomes = Outcomes::default();
    // Restart within 3 s of the kill, on the same storage, database and ports.
    ensure!(
        killed.elapsed() < Duration::from_secs(3),
        "restart came too late"
    );
    let tenure = env.spawn()?;
    let restarted = Instant::now();
    port_closed.context("a broker of the killed run still answers on its port")?;
    assert!(
        tansu_gone,
        "tansu (pid {old_tansu}) outlived its killed parent"
    );

    outcomes.record(ndjson.await?);
    collect(singles.await?, &mut outcomes).await?;
    eprintln!(
        "before the kill: {} requests accepted ({} events), {} not: {:?}",
        outcomes.requests_accepted,
        outcomes.accepted.len(),
        outcomes.others.len(),
        outcomes.others.first()
    );
    assert!(
        !outcomes.others.is_empty(),
        "the kill came after the stream ended"
    );

    // The new process serves and its consumers work within 15 s of the restart.
    let probe = joiner("after-restart", "R1");
    let accepted_probe = eventually(
        "ingest to accept after the restart",
        Duration::from_secs(15),
        || async {
            tenure.assert_running()?;
            Ok(match post_hr(&http, &base, &probe).await {
                Ok((202, body)) => Some(body),
                _ => None,
            })
        },
    )
    .await?;
    outcomes.accepted.extend(event_ids(&accepted_probe));
    let probe_id: HashSet<EventId> = [hr_id("after-restart")].into();
    let left = Duration::from_secs(15).saturating_sub(restarted.elapsed());
    env.wait_projected(&probe_id, left)
        .await
        .context("a joiner sent after the restart must be projected within 15 s of it")?;
    eprintln!(
        "consumers working {:.1?} after the restart",
        restarted.elapsed()
    );

    let catch_up = env
        .wait_projected(&outcomes.accepted, Duration::from_secs(60))
        .await?;
    let accepted: Vec<EventId> = outcomes.accepted.iter().copied().collect();
    assert_eq!(
        env.projected(&accepted).await?,
        accepted.len(),
        "accepted = projected"
    );
    println!(
        "sigkill: {} accepted events projected, caught up {catch_up:.1?} after the probe",
        accepted.len()
    );
    tenure.assert_running()?;
    Ok(())
}

/// Posts `count` single joiners `prefix-before-N` and checks every one is accepted.
async fn accepted_singles(
    http: &reqwest::Client,
    base: &str,
    prefix: &str,
    count: usize,
) -> anyhow::Result<Outcomes> {
    let mut outcomes = Outcomes::default();
    for i in 0..count {
        let event = joiner(&format!("{prefix}-before-{i}"), &format!("{prefix}{i}"));
        outcomes.record(timed(format!("before {i}"), post_hr(http, base, &event)).await);
    }
    assert_eq!(outcomes.others, Vec::<String>::new());
    Ok(outcomes)
}

/// Resends `probe` until ingest accepts it (within 30 s) and records it.
async fn accepted_again(
    tenure: &Tenure,
    http: &reqwest::Client,
    base: &str,
    probe: &Value,
    label: &str,
    outcomes: &mut Outcomes,
) -> anyhow::Result<Duration> {
    let since = Instant::now();
    let body = eventually(
        "ingest to accept again",
        Duration::from_secs(30),
        || async {
            tenure.assert_running()?;
            Ok(match post_hr(http, base, probe).await {
                Ok((202, body)) => Some(body),
                _ => None,
            })
        },
    )
    .await?;
    let took = since.elapsed();
    outcomes.record(Sent {
        label: label.into(),
        took,
        answer: Ok((202, body)),
    });
    Ok(took)
}

/// Waits until every accepted event is projected and checks it exactly; returns how many.
async fn all_projected(env: &Durable, outcomes: &Outcomes) -> anyhow::Result<usize> {
    let accepted: Vec<EventId> = outcomes.accepted.iter().copied().collect();
    env.wait_projected(&outcomes.accepted, Duration::from_secs(60))
        .await?;
    assert_eq!(
        env.projected(&accepted).await?,
        accepted.len(),
        "accepted = projected"
    );
    Ok(accepted.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broker_killed_answers_503_within_bound_then_recovers() -> anyhow::Result<()> {
    let env = Durable::new("broker_kill").await?;
    let tenure = env.start().await?;
    let base = env.base();
    let http = client();
    let mut outcomes = accepted_singles(&http, &base, "BK", 20).await?;

    let tansu = tansu_of(&tenure)?;
    let status = Command::new("kill")
        .args(["-9", &tansu.to_string()])
        .status()?;
    ensure!(status.success(), "kill -9 {tansu} failed");

    // The bound: an answer within --ingest-timeout-secs (5) plus a margin.
    let asked = Instant::now();
    let (status, body) = post_hr(&http, &base, &joiner("bk-during", "BKD")).await?;
    let took = asked.elapsed();
    eprintln!(
        "while the broker was down: {status} after {took:.1?}: {}",
        truncate(&body.to_string())
    );
    assert!(status == 503 || status == 202, "{status}: {body}");
    assert!(took < Duration::from_secs(7), "answered after {took:?}");
    outcomes.record(Sent {
        label: "while the broker was down".into(),
        took,
        answer: Ok((status, body)),
    });

    // Back within 30 s: accepted, ready, one restart counted.
    let recovered = Instant::now();
    let probe = joiner("bk-after", "BKA");
    accepted_again(
        &tenure,
        &http,
        &base,
        &probe,
        "after recovery",
        &mut outcomes,
    )
    .await?;
    let ready = eventually("/readyz to answer 200", Duration::from_secs(30), || async {
        let response = http.get(format!("{base}/readyz")).send().await?;
        Ok((response.status() == 200).then_some(response.json::<Value>().await?))
    })
    .await?;
    assert_eq!(ready["ready"], true, "{ready}");
    // Readiness covers the consumers: every group of `tenure run` has joined.
    let consumers = ready["consumers"].as_object().cloned().unwrap_or_default();
    for group in ["tenure-projector", "tenure-reactor"] {
        assert_eq!(consumers[group]["joined"], true, "{group}: {ready}");
    }
    eprintln!("recovered after {:.1?}: {ready}", recovered.elapsed());
    let metrics = env.metrics().await?;
    let broker_lines: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("tenure_embedded_broker"))
        .collect();
    assert!(
        broker_lines.contains(&"tenure_embedded_broker_restarts_total 1"),
        "{broker_lines:?}"
    );
    assert!(
        broker_lines.contains(&"tenure_embedded_broker_up 1"),
        "{broker_lines:?}"
    );
    assert_ne!(tansu_of(&tenure)?, tansu, "a new broker process serves");

    let projected = all_projected(&env, &outcomes).await?;
    println!(
        "broker kill: {projected} accepted events projected; first answer {status} after {took:.1?}"
    );
    tenure.assert_running()?;
    Ok(())
}

/// A broker that is there but silent (frozen with SIGSTOP: a hung disk, a stuck
/// process) is the case a dead one is not: connections stay open, nothing answers.
/// Ingest must still answer 503 within its bound, and accept again once it thaws.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn frozen_broker_answers_503_within_bound_then_recovers() -> anyhow::Result<()> {
    let env = Durable::new("broker_frozen").await?;
    let tenure = env.start().await?;
    let base = env.base();
    let http = client();
    let mut outcomes = accepted_singles(&http, &base, "BF", 10).await?;

    let tansu = tansu_of(&tenure)?;
    let signal = |name: &str| -> anyhow::Result<()> {
        let status = Command::new("kill")
            .args([name, &tansu.to_string()])
            .status()?;
        ensure!(status.success(), "kill {name} {tansu} failed");
        Ok(())
    };
    signal("-STOP")?;
    let asked = Instant::now();
    let answer = post_hr(&http, &base, &joiner("bf-during", "BFD")).await;
    let took = asked.elapsed();
    signal("-CONT")?;
    let (status, body) = answer?;
    eprintln!(
        "while the broker was frozen: {status} after {took:.1?}: {}",
        truncate(&body.to_string())
    );
    assert_eq!(status, 503, "{body}");
    assert!(
        took >= Duration::from_secs(5) && took < Duration::from_secs(7),
        "answered after {took:?}, not within the 5 s bound"
    );

    let probe = joiner("bf-after", "BFA");
    let thawed = accepted_again(
        &tenure,
        &http,
        &base,
        &probe,
        "after thawing",
        &mut outcomes,
    )
    .await?;
    // The refused event was never promised; the accepted ones are all projected.
    let projected = all_projected(&env, &outcomes).await?;
    println!(
        "frozen broker: 503 after {took:.1?}; accepting again {thawed:.1?} after thawing; {projected} accepted events projected"
    );
    tenure.assert_running()?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scim_sequences_end_as_the_last_request_says() -> anyhow::Result<()> {
    let env = Durable::new("scim").await?;
    let tenure = env.start().await?;
    let base = env.base();
    let http = client();
    let users = format!("{base}/scim/v2/Users");
    let user = |name: &str| {
        json!({"schemas": [USER_SCHEMA, ENTERPRISE], "userName": name, "active": true,
               "title": "Analyst", "roles": [{"value": ROLE, "primary": true}],
               ENTERPRISE: {"department": "Finance"}})
    };
    let patch = |path: &str, value: Value| {
        json!({"schemas": [PATCH_SCHEMA],
               "Operations": [{"op": "replace", "path": path, "value": value}]})
    };
    let create = |name: &'static str| {
        let (http, users) = (http.clone(), users.clone());
        let body = user(name);
        async move {
            let (status, created) = scim(&http, reqwest::Method::POST, &users, Some(body)).await?;
            assert_eq!(status, 201, "POST {name}: {created}");
            let id = created["id"].as_str().context("no id")?.to_owned();
            assert_eq!(id, ids::identity(ids::PEOPLE, name).to_string());
            anyhow::Ok(format!("{users}/{id}"))
        }
    };
    // Waits until the log's events of `name` are all projected; returns the identity.
    let projected_identity = |name: &'static str| {
        let (http, base, env) = (http.clone(), base.clone(), &env);
        async move {
            let identity = ids::identity(ids::PEOPLE, name);
            eventually(
                &format!("{name}'s events to be projected"),
                Duration::from_secs(30),
                || async { Ok(env.settled(identity).await?.map(|_| ())) },
            )
            .await?;
            let (status, body) = answer(
                http.get(format!("{base}/v1/identities/hr:{name}"))
                    .send()
                    .await?,
            )
            .await?;
            assert_eq!(status, 200, "{name}: {body}");
            anyhow::Ok(body)
        }
    };

    // POST, then GET at once: the new user is there.
    let flip = create("scim-flip").await?;
    let (status, read) = scim(&http, reqwest::Method::GET, &flip, None).await?;
    assert_eq!(
        (status, &read["userName"], &read["active"]),
        (200, &json!("scim-flip"), &json!(true)),
        "{read}"
    );

    // active true then false, back to back: the person ends left.
    let (s1, b1) = scim(
        &http,
        reqwest::Method::PATCH,
        &flip,
        Some(patch("active", json!(true))),
    )
    .await?;
    let (s2, b2) = scim(
        &http,
        reqwest::Method::PATCH,
        &flip,
        Some(patch("active", json!(false))),
    )
    .await?;
    assert_eq!((s1, s2), (200, 200), "{b1} / {b2}");
    assert_eq!(b2["active"], false, "{b2}");

    // POST then DELETE at once: 204, and the person ends left.
    let gone = create("scim-gone").await?;
    let (status, body) = scim(&http, reqwest::Method::DELETE, &gone, None).await?;
    assert_eq!(status, 204, "{body}");

    // Two attributes changed back to back: both hold in the end.
    let attrs = create("scim-attrs").await?;
    let (s1, b1) = scim(
        &http,
        reqwest::Method::PATCH,
        &attrs,
        Some(patch("title", json!("Lead analyst"))),
    )
    .await?;
    let (s2, b2) = scim(
        &http,
        reqwest::Method::PATCH,
        &attrs,
        Some(patch(
            &format!("{ENTERPRISE}:department"),
            json!("Research"),
        )),
    )
    .await?;
    assert_eq!((s1, s2), (200, 200), "{b1} / {b2}");

    let flipped = projected_identity("scim-flip").await?;
    assert_eq!(flipped["status"], "left", "{flipped}");
    let (_, read) = scim(&http, reqwest::Method::GET, &flip, None).await?;
    assert_eq!(read["active"], false, "{read}");

    let deleted = projected_identity("scim-gone").await?;
    assert_eq!(deleted["status"], "left", "{deleted}");

    let changed = projected_identity("scim-attrs").await?;
    assert_eq!(changed["status"], "active", "{changed}");
    assert_eq!(
        (
            &changed["attributes"]["title"],
            &changed["attributes"]["department"]
        ),
        (&json!("Lead analyst"), &json!("Research")),
        "{changed}"
    );
    let (_, read) = scim(&http, reqwest::Method::GET, &attrs, None).await?;
    assert_eq!(
        (&read["title"], &read[ENTERPRISE]["department"]),
        (&json!("Lead analyst"), &json!("Research")),
        "{read}"
    );
    tenure.assert_running()?;
    Ok(())
}
