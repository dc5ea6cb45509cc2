//! What every end-to-end test needs: a real tansu broker process, a fresh PostgreSQL
//! database, the `tenure` binary, and ways to read topics and wait for consumers.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use tenure_kafka::{BrokerOptions, EmbeddedBroker, broker, topics};
use tenure_store::Database;

/// PostgreSQL server the tests use; `TENURE_TEST_PG` overrides (without a database name).
pub fn pg_server() -> String {
    std::env::var("TENURE_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// Where test logs go: `target/test-logs`.
pub fn log_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-logs");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// A broker process and a database of the test's own.
pub struct TestEnv {
    pub broker: EmbeddedBroker,
    pub database_url: String,
    pub db: Database,
}

impl TestEnv {
    /// Starts a tansu broker (in-memory storage) with Tenure's topics and creates a
    /// fresh, migrated database named after the test.
    pub async fn start(name: &str) -> anyhow::Result<TestEnv> {
        let broker = EmbeddedBroker::start(BrokerOptions {
            binary: broker::locate_tansu()?,
            port: 0,
            storage: "memory://tansu/".into(),
            log_file: Some(log_dir().join(format!("{name}-broker.log"))),
        })
        .await?;
        topics::ensure_topics(broker.bootstrap(), topics::DEFAULT_PARTITIONS).await?;
        let database_url = format!("{}/tenure_test_{name}", pg_server());
        Database::drop_database(&database_url).await?;
        let db = Database::connect(&database_url).await?;
        Ok(TestEnv {
            broker,
            database_url,
            db,
        })
    }

    /// The broker's bootstrap address.
    pub fn bootstrap(&self) -> &str {
        self.broker.bootstrap()
    }

    /// Runs `tenure ARGS` to completion against this environment and returns its
    /// standard output; fails with its standard error when it exits non-zero.
    pub async fn run_tenure(&self, args: &[&str]) -> anyhow::Result<String> {
        let output = tokio::process::Command::new(tenure_binary()?)
            .args(args)
            .env("DATABASE_URL", &self.database_url)
            .env("KAFKA_BOOTSTRAP_SERVERS", self.bootstrap())
            .env("TENURE_BROKER_KIND", "tansu")
            .stdin(Stdio::null())
            .output()
            .await
            .context("cannot start the tenure binary")?;
        anyhow::ensure!(
            output.status.success(),
            "tenure {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(String::from_utf8(output.stdout)?)
    }

    /// Starts `tenure ARGS` against this environment, logging to `target/test-logs/LOG.log`.
    pub fn spawn_tenure(&self, args: &[&str], log: &str) -> anyhow::Result<Service> {
        self.spawn_tenure_with(args, log, &[])
    }

    /// [`TestEnv::spawn_tenure`] with more environment variables.
    pub fn spawn_tenure_with(
        &self,
        args: &[&str],
        log: &str,
        envs: &[(&str, &str)],
    ) -> anyhow::Result<Service> {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_dir().join(format!("{log}.log")))?;
        let child = Command::new(tenure_binary()?)
            .args(args)
            .env("DATABASE_URL", &self.database_url)
            .env("KAFKA_BOOTSTRAP_SERVERS", self.bootstrap())
            .env("TENURE_BROKER_KIND", "tansu")
            .env("TENURE_LOG", "info")
            // Tests assert figures right after the events behind them.
            .env("TENURE_METRICS_REFRESH_SECS", "0")
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .context("cannot start the tenure binary")?;
        Ok(Service {
            child: std::sync::Mutex::new(child),
        })
    }
}

/// A `tenure` child process, SIGKILLed when dropped.
pub struct Service {
    child: std::sync::Mutex<Child>,
}

impl Service {
    fn child(&self) -> std::sync::MutexGuard<'_, Child> {
        self.child.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Kills the process with SIGKILL, as a crash would, and reaps it.
    pub fn kill(&self) {
        let mut child = self.child();
        let _ = child.kill();
        let _ = child.wait();
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child().id()
    }

    /// Fails if the process has already exited.
    pub fn assert_running(&self) -> anyhow::Result<()> {
        if let Some(status) = self.child().try_wait()? {
            bail!("tenure exited early with {status}; see target/test-logs");
        }
        Ok(())
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The `tenure` binary of this build profile, built once per test process.
pub fn tenure_binary() -> anyhow::Result<PathBuf> {
    static BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let exe = std::env::current_exe().map_err(|e| e.to_string())?;
            let profile_dir = exe
                .parent()
                .and_then(|deps| deps.parent())
                .ok_or("unexpected test executable location")?
                .to_path_buf();
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut build = Command::new(cargo);
            build
                .args(["build", "--quiet", "-p", "tenure-cli", "--bin", "tenure"])
                .current_dir(env!("CARGO_MANIFEST_DIR"));
            if profile_dir.file_name().is_some_and(|n| n == "release") {
                build.arg("--release");
            }
            let status = build
                .status()
                .map_err(|e| format!("cannot run cargo build: {e}"))?;
            if !status.success() {
                return Err(format!("cargo build of the tenure binary failed: {status}"));
            }
            let binary = profile_dir.join("tenure");
            if binary.is_file() {
                Ok(binary)
            } else {
                Err(format!("{} was not built", binary.display()))
            }
        })
        .clone()
        .map_err(anyhow::Error::msg)
}

/// One record read back from a topic.
#[derive(Clone, Debug)]
pub struct ReadRecord {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

impl ReadRecord {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Every record currently in `topic`, partition by partition in offset order.
pub async fn read_topic(bootstrap: &str, topic: &str) -> anyhow::Result<Vec<ReadRecord>> {
    let ends = topics::end_offsets(bootstrap, topic).await?;
    let (bootstrap, topic) = (bootstrap.to_owned(), topic.to_owned());
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", "tenure-tests-reader")
            .set("enable.auto.commit", "false")
            .create()?;
        let mut tpl = TopicPartitionList::new();
        let mut remaining = 0i64;
        for (p, end) in &ends {
            tpl.add_partition_offset(&topic, *p, Offset::Beginning)?;
            remaining += end;
        }
        consumer.assign(&tpl)?;
        let mut out = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut seen = std::collections::HashMap::new();
        while ends
            .iter()
            .any(|(p, end)| seen.get(p).copied().unwrap_or(0) < *end)
        {
            if Instant::now() > deadline {
                bail!("read only {} of {remaining} records of {topic}", out.len());
            }
            if let Some(m) = consumer.poll(Duration::from_millis(200)) {
                let m = m?;
                seen.insert(m.partition(), m.offset() + 1);
                out.push(ReadRecord {
                    partition: m.partition(),
                    offset: m.offset(),
                    key: m.key().map(<[u8]>::to_vec),
                    payload: m.payload().unwrap_or_default().to_vec(),
                    headers: m
                        .headers()
                        .map(|hs| {
                            hs.iter()
                                .map(|h| {
                                    (
                                        h.key.to_owned(),
                                        String::from_utf8_lossy(h.value.unwrap_or_default())
                                            .into_owned(),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                });
            }
        }
        out.sort_by_key(|r| (r.partition, r.offset));
        Ok(out)
    })
    .await?
}

/// Waits until `group` has committed every record of the lifecycle log.
pub async fn wait_caught_up(env: &TestEnv, group: &str, limit: Duration) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let ends = topics::end_offsets(env.bootstrap(), topics::LIFECYCLE).await?;
        let client = env.db.client().await?;
        let client: &tokio_postgres::Client = &client;
        let lag = tenure_store::offsets::lag(client, group, topics::LIFECYCLE, &ends).await?;
        if lag == 0 {
            return Ok(());
        }
        if started.elapsed() > limit {
            bail!("{group} still lags {lag} records after {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Polls `check` until it returns `Some`, or fails after `limit` naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let started = Instant::now();
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if started.elapsed() > limit {
            bail!("timed out after {limit:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Plays the provisioning connector for every system: acknowledges each revocation
/// command on `tenure.commands.v1` not acknowledged yet, as done, over the HTTP API.
/// Returns how many it acknowledged now.
pub async fn acknowledge_revocations(
    env: &TestEnv,
    base: &str,
    acknowledged: &mut std::collections::HashSet<String>,
) -> anyhow::Result<usize> {
    use prost::Message as _;
    let http = reqwest::Client::new();
    let mut count = 0;
    for record in read_topic(env.bootstrap(), topics::COMMANDS).await? {
        if record.header("ce_type") != Some("tenure.commands.v1.revoke") {
            continue;
        }
        let command = tenure_proto::v1::RevocationCommand::decode(record.payload.as_slice())?;
        if !acknowledged.insert(command.command_id.clone()) {
            continue;
        }
        let response = http
            .post(format!("{base}/v1/connectors/outcomes"))
            .json(&serde_json::json!({
                "command_id": command.command_id, "grant_id": command.grant_id,
                "identity_id": command.identity_id, "command_type": "revoke", "status": "done",
                "connector": "test-connector"}))
            .send()
            .await?;
        anyhow::ensure!(
            response.status() == 202,
            "outcome refused: {}",
            response.text().await?
        );
        count += 1;
    }
    Ok(count)
}

/// Starts `tenure run` against the environment and waits until its API answers;
/// returns the process and the API's base URL.
pub async fn start_tenure_run(
    env: &TestEnv,
    log: &str,
    extra: &[&str],
) -> anyhow::Result<(Service, String)> {
    start_tenure_service(env, log, "run", extra).await
}

/// Starts `tenure <command> --listen <a free port> <extra>` (`run`, or one service
/// such as `ingest`) against the environment and waits until its API answers; returns
/// the process and the API's base URL.
pub async fn start_tenure_service(
    env: &TestEnv,
    log: &str,
    command: &str,
    extra: &[&str],
) -> anyhow::Result<(Service, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec![command, "--listen", &listen];
    args.extend_from_slice(extra);
    let service = env.spawn_tenure(&args, log)?;
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    eventually(
        "the HTTP API to answer",
        Duration::from_secs(60),
        || async {
            service.assert_running()?;
            Ok(http
                .get(format!("{base}/healthz"))
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success()))
        },
    )
    .await?;
    Ok((service, base))
}

/// Hires `person` (an owner other tests' grants name) through ingest and waits until
/// the projection knows them, as ingest requires of every owner.
pub async fn hire_owner(base: &str, person: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let response = http
        .post(format!("{base}/v1/hr/events"))
        .json(
            &serde_json::json!({"event_id": format!("hire-owner-{person}"), "type": "joiner",
            "employee_id": person, "role": "manager",
            "effective_time": (chrono::Utc::now() - chrono::Duration::days(400)).to_rfc3339()}),
        )
        .send()
        .await?;
    anyhow::ensure!(
        response.status() == 202,
        "hiring {person}: {}",
        response.text().await?
    );
    eventually(
        &format!("{person} to be projected"),
        Duration::from_secs(60),
        || async {
            let response = http
                .get(format!("{base}/v1/identities/hr:{person}"))
                .send()
                .await?;
            Ok((response.status() == 200).then_some(()))
        },
    )
    .await
}

/// Posts `body` as JSON to `url` and fails, with the answer, unless it is accepted (202).
pub async fn post_accepted(
    http: &reqwest::Client,
    url: &str,
    body: serde_json::Value,
) -> anyhow::Result<()> {
    let response = http.post(url).json(&body).send().await?;
    let status = response.status();
    anyhow::ensure!(
        status == 202,
        "{url} answered {status}: {}",
        response.text().await?
    );
    Ok(())
}
