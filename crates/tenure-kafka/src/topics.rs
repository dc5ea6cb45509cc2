//! Tenure's topics and their creation.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use tracing::info;

use crate::error::KafkaAdapterError;

/// The lifecycle log, keyed by identity id, retained forever: the source of truth.
pub const LIFECYCLE: &str = "tenure.lifecycle.v1";
/// Commands for provisioning connectors, keyed by identity id.
pub const COMMANDS: &str = "tenure.commands.v1";
/// Connectors' acknowledgements of commands.
pub const OUTCOMES: &str = "tenure.outcomes.v1";
/// HR events published to Kafka by their source, as JSON (same shape as HTTP ingest).
pub const HR_RAW: &str = "tenure.hr.raw";
/// ITSM events published to Kafka by their source, as JSON (same shape as HTTP ingest).
pub const ITSM_RAW: &str = "tenure.itsm.raw";
/// Raw-topic messages that could not become lifecycle events, with the reason in the
/// `tenure_error` header.
pub const DEAD_LETTERS: &str = "tenure.dead-letters.v1";

/// Prefix of the per-system command topics (`tenure.commands.v1.<system>`).
pub const COMMANDS_PREFIX: &str = "tenure.commands.v1.";
/// Prefix of the per-system outcome topics (`tenure.outcomes.v1.<system>`).
pub const OUTCOMES_PREFIX: &str = "tenure.outcomes.v1.";
/// A subscription to every per-system outcome topic, present and future.
pub const PER_SYSTEM_OUTCOMES_PATTERN: &str = r"^tenure\.outcomes\.v1\..+";

/// Where connector commands travel. One shared topic is simplest; a topic per target
/// system lets a deployment's Kafka ACLs give each connector only its own system's
/// commands and outcomes (prefix ACLs on `tenure.commands.v1.` and
/// `tenure.outcomes.v1.`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CommandTopics {
    /// Every system's commands on `tenure.commands.v1`, told apart by the
    /// `tenure_target_system` header.
    #[default]
    Shared,
    /// Each system's commands on `tenure.commands.v1.<system>`.
    PerSystem,
}

impl std::str::FromStr for CommandTopics {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "shared" => Ok(CommandTopics::Shared),
            "per-system" => Ok(CommandTopics::PerSystem),
            other => Err(format!(
                "command topics {other:?} must be \"shared\" or \"per-system\""
            )),
        }
    }
}

impl CommandTopics {
    /// The topic a command for `system` is published on.
    pub fn commands_for(self, system: &str) -> String {
        match self {
            CommandTopics::Shared => COMMANDS.to_owned(),
            CommandTopics::PerSystem => format!("{COMMANDS_PREFIX}{}", topic_safe(system)),
        }
    }
}

/// Whether `topic` carries connector commands (shared or per system).
pub fn is_commands_topic(topic: &str) -> bool {
    topic == COMMANDS || topic.starts_with(COMMANDS_PREFIX)
}

/// `system` as it appears in a per-system topic name: Kafka allows only ASCII
/// letters, digits, `.`, `_` and `-` (each other character becomes `_`) and at
/// most 249 characters in all.
pub fn topic_safe(system: &str) -> String {
    system
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(200)
        .collect()
}

/// The system a per-system outcome topic belongs to (as [`topic_safe`] wrote it).
pub fn system_of_outcomes_topic(topic: &str) -> Option<&str> {
    topic
        .strip_prefix(OUTCOMES_PREFIX)
        .filter(|s| !s.is_empty())
}

/// Creates `system`'s command and outcome topics if they do not exist yet.
pub async fn ensure_system_topics(
    bootstrap: &str,
    system: &str,
    partitions: i32,
) -> Result<(), KafkaAdapterError> {
    let safe = topic_safe(system);
    create(
        bootstrap,
        &[
            format!("{COMMANDS_PREFIX}{safe}"),
            format!("{OUTCOMES_PREFIX}{safe}"),
        ],
        partitions,
    )
    .await
}

/// Partitions per topic when Tenure creates them; the log's order is per identity,
/// so this bounds how many projector/reactor instances can share the work.
pub const DEFAULT_PARTITIONS: i32 = 4;

/// Creates Tenure's topics if they do not exist yet; existing topics are left alone.
pub async fn ensure_topics(bootstrap: &str, partitions: i32) -> Result<(), KafkaAdapterError> {
    let names = [
        LIFECYCLE,
        COMMANDS,
        OUTCOMES,
        HR_RAW,
        ITSM_RAW,
        DEAD_LETTERS,
    ]
    .map(str::to_owned);
    create(bootstrap, &names, partitions).await
}

/// Replicas of each topic this process creates; see [`declare_replication_factor`].
static REPLICATION_FACTOR: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(1);

/// Sets how many replicas the topics this process creates get (values below 1 are
/// taken as 1): set once at start, from the deployment's settings, because topics
/// are created both by `tenure topics` and, per system, by the relay.
pub fn declare_replication_factor(replicas: i32) {
    REPLICATION_FACTOR.store(replicas.max(1), std::sync::atomic::Ordering::Relaxed);
}

/// Creates the topics `names` that do not exist yet.
async fn create(
    bootstrap: &str,
    names: &[String],
    partitions: i32,
) -> Result<(), KafkaAdapterError> {
    let admin: AdminClient<DefaultClientContext> = crate::client_config(bootstrap).create()?;
    let replicas = REPLICATION_FACTOR.load(std::sync::atomic::Ordering::Relaxed);
    let topics: Vec<NewTopic> = names
        .iter()
        .map(|name| {
            let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(replicas));
            if name == LIFECYCLE || name == DEAD_LETTERS {
                topic.set("retention.ms", "-1")
            } else {
                topic
            }
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for result in admin.create_topics(&topics, &options).await? {
        match result {
            Ok(name) => info!(topic = %name, partitions, replicas, "created topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(KafkaAdapterError::Kafka(
                    rdkafka::error::KafkaError::AdminOp(code),
                ))
                .inspect_err(|_| {
                    tracing::error!(topic = %name, %code, "could not create topic");
                });
            }
        }
    }
    Ok(())
}

/// The end offset (next offset to be written) of every partition of `topic`, used to
/// tell whether a consumer has caught up.
///
/// tansu 0.6 reports a high watermark of `base offset + 1` for the last record batch of
/// a partition, not `last offset + 1`, when that batch holds several records. So the
/// watermark is only a lower bound here: the batch at `high - 1` is read back and the
/// true end is one past its last record (on a correct broker this changes nothing).
pub async fn end_offsets(
    bootstrap: &str,
    topic: &str,
) -> Result<Vec<(i32, i64)>, KafkaAdapterError> {
    let (bootstrap, topic) = (bootstrap.to_owned(), topic.to_owned());
    tokio::task::spawn_blocking(move || {
        let client: BaseConsumer = crate::client_config(&bootstrap)
            .set("group.id", "tenure-end-offsets")
            .set("enable.auto.commit", "false")
            .set("fetch.wait.max.ms", "10")
            .create()?;
        let metadata = client.fetch_metadata(Some(&topic), Duration::from_secs(10))?;
        let mut ends = std::collections::BTreeMap::new();
        let mut last_batches = TopicPartitionList::new();
        for t in metadata.topics() {
            for p in t.partitions() {
                let (_, high) = client.fetch_watermarks(&topic, p.id(), Duration::from_secs(10))?;
                ends.insert(p.id(), high);
                if high > 0 {
                    last_batches.add_partition_offset(&topic, p.id(), Offset::Offset(high - 1))?;
                }
            }
        }
        if last_batches.count() > 0 {
            client.assign(&last_batches)?;
            // The last batch of each partition arrives in the first fetch. While
            // producers keep writing, records keep arriving after it: stop once every
            // partition has answered and a little later at the most, so a live log
            // still gives an answer at once (a later end only counts records read).
            let wanted = last_batches.count();
            let mut answered = std::collections::BTreeSet::new();
            let started = std::time::Instant::now();
            let mut quiet = 0;
            while quiet < 2 {
                let elapsed = started.elapsed();
                let all_answered = answered.len() >= wanted;
                if (all_answered && elapsed > Duration::from_millis(300))
                    || elapsed > Duration::from_secs(10)
                {
                    break;
                }
                match client.poll(Duration::from_millis(100)) {
                    Some(message) => {
                        let message = message?;
                        answered.insert(message.partition());
                        let end = ends.entry(message.partition()).or_insert(0);
                        *end = (*end).max(message.offset() + 1);
                        quiet = 0;
                    }
                    None => quiet += 1,
                }
            }
        }
        Ok(ends.into_iter().collect())
    })
    .await
    .map_err(|e| KafkaAdapterError::Handler(Box::new(e)))?
}
