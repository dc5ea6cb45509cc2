//! Which kind of broker Tenure talks to, and the workarounds only that kind needs.
//!
//! Against Apache Kafka every client is configured plainly. tansu 0.6 (the embedded
//! broker) needs two workarounds, applied only when the broker is tansu:
//! - its sqlite storage panics (for good: its storage task dies) when an idempotent
//!   producer bumps its own epoch, which librdkafka does after timeouts under load.
//!   Tenure's event and command ids are deterministic and every consumer deduplicates
//!   by them, so producers to tansu run without Kafka's idempotence (and with one
//!   request in flight per connection, so a retry cannot reorder a partition);
//! - it answers each partition's fetch in one storage call that reads every record's
//!   headers one query at a time, and serves storage calls one at a time: consumers
//!   ask for small fetches ([`max_partition_fetch_bytes`]), so no call holds the
//!   broker for seconds and heartbeats, produce and metadata requests get their turn;
//! - a fetch that starts inside a multi-record batch skips the rest of that batch, so
//!   consumers rewind (see [`crate::consumer::MAX_RECORDS_PER_BATCH`]).

use std::sync::OnceLock;

/// The broker implementation on the other end of `bootstrap.servers`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrokerKind {
    /// Apache Kafka or a compatible broker that needs no workaround.
    Kafka,
    /// tansu, Tenure's embedded broker.
    Tansu,
}

impl std::str::FromStr for BrokerKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "kafka" => Ok(BrokerKind::Kafka),
            "tansu" => Ok(BrokerKind::Tansu),
            other => Err(format!(
                "broker kind {other:?} is not known: use kafka or tansu"
            )),
        }
    }
}

static KIND: OnceLock<BrokerKind> = OnceLock::new();

/// Declares the broker kind for this process (the first declaration wins): the CLI
/// does so when it starts the embedded broker or reads `TENURE_BROKER_KIND`.
pub fn declare(kind: BrokerKind) {
    let _ = KIND.set(kind);
}

/// The broker kind of this process: as declared, else `TENURE_BROKER_KIND`, else Kafka.
pub fn current() -> BrokerKind {
    *KIND.get_or_init(|| {
        std::env::var("TENURE_BROKER_KIND")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(BrokerKind::Kafka)
    })
}

/// How long a consumer lets the broker hold a fetch that finds nothing new: short,
/// since decisions are latency-bound. tansu polls its storage for the whole wait
/// rather than waking on new data, which costs it little once its sqlite storage has
/// the header index (25 ms held 200 joiners/s on sqlite in the fault suite);
/// `TENURE_FETCH_WAIT_MS` overrides.
pub fn fetch_wait_ms() -> u64 {
    std::env::var("TENURE_FETCH_WAIT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25)
}

/// The fetch wait of a consumer on the path from a trigger to its command (the
/// reactor): 5 ms, since tansu answers a fetch only when its wait is over, even with
/// records ready, so the wait is paid on every decision; `TENURE_LATENCY_FETCH_WAIT_MS`
/// overrides.
pub fn latency_fetch_wait_ms() -> u64 {
    std::env::var("TENURE_LATENCY_FETCH_WAIT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
}

/// Most bytes a consumer asks of one partition per fetch (librdkafka's
/// `max.partition.fetch.bytes`): Kafka's default of 1 MiB, 64 KiB against tansu.
pub fn max_partition_fetch_bytes() -> usize {
    match current() {
        BrokerKind::Kafka => 1024 * 1024,
        BrokerKind::Tansu => 64 * 1024,
    }
}
