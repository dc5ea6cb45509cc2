//! The embedded Kafka-protocol broker: tansu, run as a managed child process.
//!
//! Building tansu into our binary would add ~400 crates and ~10 minutes to every
//! clean build; a `cargo install`ed binary is built once per machine (see
//! `deploy/install-broker.sh`) and supervised here. Killed when dropped.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use tokio::process::{Child, Command};
use tracing::info;

use crate::error::KafkaAdapterError;

/// How to start the embedded broker.
#[derive(Clone, Debug)]
pub struct BrokerOptions {
    /// The tansu binary; see [`locate_tansu`].
    pub binary: PathBuf,
    /// The TCP port to listen on; 0 picks a free one.
    pub port: u16,
    /// tansu storage URL: `sqlite://FILE` (durable) or `memory://tansu/` (fast, lost on exit).
    pub storage: String,
    /// Where the broker's own output goes.
    pub log_file: Option<PathBuf>,
}

/// A running broker child process.
pub struct EmbeddedBroker {
    child: Child,
    bootstrap: String,
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

impl EmbeddedBroker {
    /// Starts the broker and waits until it answers metadata requests.
    pub async fn start(options: BrokerOptions) -> Result<EmbeddedBroker, KafkaAdapterError> {
        let port = if options.port == 0 {
            free_port()?
        } else {
            options.port
        };
        let url = format!("tcp://127.0.0.1:{port}");
        let (stdout, stderr) = match &options.log_file {
            Some(path) => {
                let file = std::fs::File::create(path).map_err(|e| {
                    KafkaAdapterError::Broker(format!("cannot write {}: {e}", path.display()))
                })?;
                let copy = file
                    .try_clone()
                    .map_err(|e| KafkaAdapterError::Broker(e.to_string()))?;
                (Stdio::from(file), Stdio::from(copy))
            }
            None => (Stdio::null(), Stdio::null()),
        };
        let child = Command::new(&options.binary)
            .arg("broker")
            .args(["--listener-url", &url])
            .args(["--advertised-listener-url", &url])
            .args(["--storage-engine", &options.storage])
            .env(
                "RUST_LOG",
                std::env::var("TENURE_BROKER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                KafkaAdapterError::Broker(format!("cannot start {}: {e}", options.binary.display()))
            })?;
        let mut broker = EmbeddedBroker {
            child,
            bootstrap: format!("127.0.0.1:{port}"),
        };
        broker.wait_ready(Duration::from_secs(30)).await?;
        info!(bootstrap = %broker.bootstrap, storage = %options.storage, "embedded broker ready");
        Ok(broker)
    }

    /// The `bootstrap.servers` string for clients.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// The broker's process id (tests use it to kill the broker).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    async fn wait_ready(&mut self, limit: Duration) -> Result<(), KafkaAdapterError> {
        let started = Instant::now();
        loop {
            if let Some(status) = self
                .child
                .try_wait()
                .map_err(|e| KafkaAdapterError::Broker(e.to_string()))?
            {
                return Err(KafkaAdapterError::Broker(format!(
                    "tansu exited at start with {status}"
                )));
            }
            let bootstrap = self.bootstrap.clone();
            let ready = tokio::task::spawn_blocking(move || {
                let probe: BaseConsumer = ClientConfig::new()
                    .set("bootstrap.servers", &bootstrap)
                    .create()?;
                probe
                    .fetch_metadata(None, Duration::from_millis(500))
                    .map(|_| ())
            })
            .await
            .map_err(|e| KafkaAdapterError::Broker(e.to_string()))?;
            if ready.is_ok() {
                return Ok(());
            }
            if started.elapsed() > limit {
                return Err(KafkaAdapterError::Broker(format!(
                    "tansu did not answer on {} within {limit:?}",
                    self.bootstrap
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the broker and waits for it to exit.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
