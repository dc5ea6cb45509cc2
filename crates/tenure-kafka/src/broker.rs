//! The embedded Kafka-protocol broker: tansu, run as a supervised child process.
//!
//! Building tansu into our binary would add ~400 crates and ~10 minutes to every
//! clean build; a `cargo install`ed binary is built once per machine (see
//! `deploy/install-broker.sh`) and supervised here:
//! - it dies with its parent (a parent-death signal through `setpriv`, so a crashed
//!   `tenure` leaves no broker behind holding the port and the storage);
//! - it is restarted on the same port and storage when it exits, when its storage
//!   task panics (tansu then stays up but answers every request with an error), or
//!   when it stops answering metadata requests;
//! - its state (up, restarts, pid) is published for `/readyz` and `/metrics`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};
use tracing::{error, info, warn};

use crate::error::KafkaAdapterError;

/// How to start the embedded broker.
#[derive(Clone, Debug)]
pub struct BrokerOptions {
    /// The tansu binary; see [`locate_tansu`].
    pub binary: PathBuf,
    /// The TCP port to listen on; 0 picks a free one (kept across restarts).
    pub port: u16,
    /// tansu storage URL: `sqlite://FILE` (durable) or `memory://tansu/` (fast, lost on exit).
    pub storage: String,
    /// Where the broker's own output goes.
    pub log_file: Option<PathBuf>,
}

/// What the supervisor knows of the broker, shared with health endpoints.
#[derive(Debug, Default)]
pub struct BrokerHealth {
    up: AtomicBool,
    restarts: AtomicU64,
    pid: AtomicU32,
    last_failure: Mutex<Option<String>>,
}

/// A copy of [`BrokerHealth`] at one moment.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BrokerHealthSnapshot {
    pub up: bool,
    pub restarts: u64,
    pub pid: u32,
    pub last_failure: Option<String>,
}

impl BrokerHealth {
    /// The current state.
    pub fn snapshot(&self) -> BrokerHealthSnapshot {
        BrokerHealthSnapshot {
            up: self.up.load(Ordering::SeqCst),
            restarts: self.restarts.load(Ordering::SeqCst),
            pid: self.pid.load(Ordering::SeqCst),
            last_failure: self
                .last_failure
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }

    fn failed(&self, why: String) {
        self.up.store(false, Ordering::SeqCst);
        *self.last_failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
    }
}

static CURRENT: Mutex<Option<Arc<BrokerHealth>>> = Mutex::new(None);

/// The health of this process's embedded broker, if it runs one.
pub fn embedded_health() -> Option<BrokerHealthSnapshot> {
    CURRENT
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .map(|h| h.snapshot())
}

/// A running, supervised broker child process; stopped when [`EmbeddedBroker::stop`]
/// is called or the supervisor's runtime ends.
pub struct EmbeddedBroker {
    bootstrap: String,
    health: Arc<BrokerHealth>,
    stop: Option<oneshot::Sender<()>>,
    supervisor: Option<tokio::task::JoinHandle<()>>,
}

/// Finds the tansu binary: `$TENURE_BROKER_BIN`, then `tansu` on `PATH`, then `~/.cargo/bin/tansu`.
pub fn locate_tansu() -> Result<PathBuf, KafkaAdapterError> {
    if let Ok(path) = std::env::var("TENURE_BROKER_BIN") {
        return Ok(PathBuf::from(path));
    }
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("tansu")).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(Path::new(&home).join(".cargo/bin/tansu"));
    }
    candidates.into_iter().find(|p| p.is_file()).ok_or_else(|| {
        KafkaAdapterError::Broker(
            "the tansu broker binary was not found (looked at $TENURE_BROKER_BIN, PATH and ~/.cargo/bin); \
             install it with deploy/install-broker.sh, or point --bootstrap at a running Kafka"
                .into(),
        )
    })
}

fn free_port() -> Result<u16, KafkaAdapterError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| KafkaAdapterError::Broker(format!("no free TCP port: {e}")))
}

/// `setpriv`, when the machine has it, makes the kernel kill the broker when its
/// parent dies, without any unsafe code of ours.
fn setpriv() -> Option<&'static Path> {
    ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.is_file())
}

/// One broker process and the signal its stderr watcher raises when tansu panics.
struct Running {
    child: Child,
    panicked: mpsc::UnboundedReceiver<String>,
}

fn spawn_child(options: &BrokerOptions, url: &str) -> Result<Running, KafkaAdapterError> {
    let mut command = match setpriv() {
        Some(setpriv) => {
            let mut c = Command::new(setpriv);
            c.args(["--pdeathsig", "KILL", "--"]).arg(&options.binary);
            c
        }
        None => Command::new(&options.binary),
    };
    // tansu reads `sqlite:///abs/path` relative to its working directory (it drops
    // the leading slash): an absolute file is found from the root.
    if crate::tansu_sqlite::sqlite_file(&options.storage).is_some_and(|f| f.is_absolute()) {
        command.current_dir("/");
    }
    command
        .arg("broker")
        .args(["--listener-url", url])
        .args(["--advertised-listener-url", url])
        .args(["--storage-engine", &options.storage])
        .env(
            "RUST_LOG",
            std::env::var("TENURE_BROKER_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|e| {
        KafkaAdapterError::Broker(format!("cannot start {}: {e}", options.binary.display()))
    })?;
    let (tx, panicked) = mpsc::unbounded_channel();
    if let Some(stderr) = child.stderr.take() {
        let log_file = options.log_file.clone();
        tokio::spawn(async move {
            let mut log = match log_file {
                Some(path) => tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .await
                    .ok(),
                None => None,
            };
            let mut reader = BufReader::new(stderr);
            let mut raw = Vec::new();
            // The line after a "panicked at" line may say where; judge each panic by it.
            let mut panic_pending = false;
            loop {
                raw.clear();
                match reader.read_until(b'\n', &mut raw).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let line = String::from_utf8_lossy(&raw).trim_end().to_owned();
                if let Some(log) = log.as_mut() {
                    let _ = log.write_all(line.as_bytes()).await;
                    let _ = log.write_all(b"\n").await;
                }
                // A panic in a connection task is contained by tansu; one in its
                // storage task leaves the broker up but unable to serve anything.
                let storage_panic = line.contains("tansu-storage")
                    && (line.contains("panicked at") || panic_pending);
                if storage_panic {
                    let _ = tx.send(line.clone());
                }
                panic_pending = line.contains("panicked at") && !storage_panic;
            }
        });
    }
    Ok(Running { child, panicked })
}

/// Whether the broker at `bootstrap` answers a metadata request within `timeout`, and
/// why not: the one liveness probe of a broker, used by the supervisor and `/readyz`.
pub async fn probe(bootstrap: &str, timeout: Duration) -> Result<(), String> {
    let bootstrap = bootstrap.to_owned();
    tokio::task::spawn_blocking(move || {
        let probe: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("log_level", "0")
            .create()
            .map_err(|e| e.to_string())?;
        probe
            .fetch_metadata(None, timeout)
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()))
}

async fn answers(bootstrap: &str, timeout: Duration) -> bool {
    probe(bootstrap, timeout).await.is_ok()
}

async fn wait_ready(
    running: &mut Running,
    bootstrap: &str,
    limit: Duration,
) -> Result<(), KafkaAdapterError> {
    let started = Instant::now();
    loop {
        if let Some(status) = running
            .child
            .try_wait()
            .map_err(|e| KafkaAdapterError::Broker(e.to_string()))?
        {
            return Err(KafkaAdapterError::Broker(format!(
                "tansu exited at start with {status}"
            )));
        }
        if answers(bootstrap, Duration::from_millis(500)).await {
            return Ok(());
        }
        if started.elapsed() > limit {
            return Err(KafkaAdapterError::Broker(format!(
                "tansu did not answer on {bootstrap} within {limit:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Probes between checks, and failed probes in a row before a restart. A busy tansu
/// (it serves every storage request in turn) can leave metadata requests unanswered
/// for many seconds while it works through a backlog: that is reported (down in
/// `/readyz`) but only two minutes of silence count as a wedged broker to restart.
const PROBE_EVERY: Duration = Duration::from_secs(3);
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
const PROBES_BEFORE_RESTART: u32 = 15;

/// Why a running broker was given up on.
enum Ended {
    Stopped,
    Failed(String),
}

async fn watch_running(
    running: &mut Running,
    bootstrap: &str,
    health: &BrokerHealth,
    stop: &mut oneshot::Receiver<()>,
) -> Ended {
    let mut failed_probes = 0u32;
    let mut probe = tokio::time::interval(PROBE_EVERY);
    probe.tick().await;
    loop {
        tokio::select! {
            _ = &mut *stop => return Ended::Stopped,
            status = running.child.wait() => {
                return Ended::Failed(match status {
                    Ok(s) => format!("tansu exited with {s}"),
                    Err(e) => format!("tansu could not be waited for: {e}"),
                });
            }
            Some(line) = running.panicked.recv() => {
                return Ended::Failed(format!("tansu's storage panicked: {line}"));
            }
            _ = probe.tick() => {
                if answers(bootstrap, PROBE_TIMEOUT).await {
                    if failed_probes > 0 {
                        info!(%bootstrap, "embedded broker answers again");
                    }
                    failed_probes = 0;
                    health.up.store(true, Ordering::SeqCst);
                } else {
                    failed_probes += 1;
                    if failed_probes == 2 {
                        warn!(%bootstrap, "embedded broker does not answer metadata requests");
                        health.failed("not answering metadata requests".into());
                    }
                    if failed_probes >= PROBES_BEFORE_RESTART {
                        return Ended::Failed(format!(
                            "tansu did not answer {failed_probes} probes in a row"
                        ));
                    }
                }
            }
        }
    }
}

async fn supervise(
    options: BrokerOptions,
    url: String,
    bootstrap: String,
    mut running: Running,
    health: Arc<BrokerHealth>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut wait = Duration::from_millis(200);
    loop {
        match watch_running(&mut running, &bootstrap, &health, &mut stop).await {
            Ended::Stopped => {
                let _ = running.child.kill().await;
                health.up.store(false, Ordering::SeqCst);
                return;
            }
            Ended::Failed(why) => {
                error!(%bootstrap, storage = %options.storage, reason = %why,
                       "embedded broker failed; restarting it on the same port and storage");
                health.failed(why);
                let _ = running.child.kill().await;
            }
        }
        loop {
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(wait) => {}
            }
            wait = (wait * 2).min(Duration::from_secs(5));
            let mut next = match spawn_child(&options, &url) {
                Ok(r) => r,
                Err(e) => {
                    error!(error = %e, "embedded broker cannot be restarted yet");
                    continue;
                }
            };
            if let Some(pid) = next.child.id() {
                health.pid.store(pid, Ordering::SeqCst);
            }
            match wait_ready(&mut next, &bootstrap, Duration::from_secs(30)).await {
                Ok(()) => {
                    health.restarts.fetch_add(1, Ordering::SeqCst);
                    if options.storage.starts_with("memory:") {
                        warn!(
                            "the embedded broker kept its log in memory: the restarted broker starts empty"
                        );
                    }
                    if let Err(e) =
                        crate::topics::ensure_topics(&bootstrap, crate::topics::DEFAULT_PARTITIONS)
                            .await
                    {
                        warn!(error = %e, "topics could not be checked after the restart");
                    }
                    health.up.store(true, Ordering::SeqCst);
                    info!(%bootstrap, "embedded broker restarted");
                    running = next;
                    wait = Duration::from_millis(200);
                    break;
                }
                Err(e) => {
                    error!(error = %e, "restarted embedded broker is not ready; trying again");
                    let _ = next.child.kill().await;
                }
            }
        }
    }
}

/// Adds the index tansu's sqlite storage lacks (see [`crate::tansu_sqlite`]) the first
/// time a storage file is used: tansu has created its tables by the time it answers,
/// so it is stopped, the index added, and started again.
async fn prepare_sqlite(
    options: &BrokerOptions,
    url: &str,
    bootstrap: &str,
    mut running: Running,
    file: &Path,
) -> Result<Running, KafkaAdapterError> {
    let sqlite = |e: rusqlite::Error| {
        KafkaAdapterError::Broker(format!("sqlite storage {}: {e}", file.display()))
    };
    if crate::tansu_sqlite::is_prepared(file).map_err(sqlite)? {
        return Ok(running);
    }
    if !crate::tansu_sqlite::has_header_table(file).map_err(sqlite)? {
        warn!(file = %file.display(), "tansu created no header table; its storage is used as it is");
        return Ok(running);
    }
    info!(file = %file.display(), "adding the header index tansu's sqlite storage lacks (once per storage file)");
    let _ = running.child.kill().await;
    let _ = running.child.wait().await;
    let path = file.to_owned();
    tokio::task::spawn_blocking(move || crate::tansu_sqlite::prepare(&path))
        .await
        .map_err(|e| KafkaAdapterError::Broker(e.to_string()))?
        .map_err(sqlite)?;
    let mut running = spawn_child(options, url)?;
    if let Err(e) = wait_ready(&mut running, bootstrap, Duration::from_secs(30)).await {
        let _ = running.child.kill().await;
        return Err(e);
    }
    Ok(running)
}

impl EmbeddedBroker {
    /// Starts the broker, waits until it answers metadata requests, and supervises it.
    pub async fn start(options: BrokerOptions) -> Result<EmbeddedBroker, KafkaAdapterError> {
        crate::flavour::declare(crate::BrokerKind::Tansu);
        let port = if options.port == 0 {
            free_port()?
        } else {
            options.port
        };
        let url = format!("tcp://127.0.0.1:{port}");
        let bootstrap = format!("127.0.0.1:{port}");
        if let Some(path) = &options.log_file {
            std::fs::File::create(path).map_err(|e| {
                KafkaAdapterError::Broker(format!("cannot write {}: {e}", path.display()))
            })?;
        }
        let mut running = spawn_child(&options, &url)?;
        if let Err(e) = wait_ready(&mut running, &bootstrap, Duration::from_secs(30)).await {
            let _ = running.child.kill().await;
            return Err(e);
        }
        if let Some(file) = crate::tansu_sqlite::sqlite_file(&options.storage) {
            running = prepare_sqlite(&options, &url, &bootstrap, running, &file).await?;
        }
        info!(%bootstrap, storage = %options.storage, "embedded broker ready");
        let health = Arc::new(BrokerHealth::default());
        health.up.store(true, Ordering::SeqCst);
        if let Some(pid) = running.child.id() {
            health.pid.store(pid, Ordering::SeqCst);
        }
        *CURRENT.lock().unwrap_or_else(|p| p.into_inner()) = Some(health.clone());
        let (stop, stopped) = oneshot::channel();
        let supervisor = tokio::spawn(supervise(
            options,
            url,
            bootstrap.clone(),
            running,
            health.clone(),
            stopped,
        ));
        Ok(EmbeddedBroker {
            bootstrap,
            health,
            stop: Some(stop),
            supervisor: Some(supervisor),
        })
    }

    /// The `bootstrap.servers` string for clients.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// The broker's current process id (tests use it to kill the broker).
    pub fn pid(&self) -> Option<u32> {
        Some(self.health.pid.load(Ordering::SeqCst)).filter(|p| *p != 0)
    }

    /// What the supervisor knows of the broker now.
    pub fn health(&self) -> BrokerHealthSnapshot {
        self.health.snapshot()
    }

    /// Stops the broker and waits for it to exit.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(supervisor) = self.supervisor.take() {
            let _ = supervisor.await;
        }
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
