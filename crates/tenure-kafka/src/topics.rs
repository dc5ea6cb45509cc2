//! Tenure's topics and their creation.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;
use tracing::info;

use crate::error::KafkaAdapterError;

/// The lifecycle log, keyed by identity id, retained forever: the source of truth.
pub const LIFECYCLE: &str = "tenure.lifecycle.v1";
/// Commands for provisioning connectors, keyed by identity id.
pub const COMMANDS: &str = "tenure.commands.v1";
/// Connectors' acknowledgements of commands.
pub const OUTCOMES: &str = "tenure.outcomes.v1";

/// Partitions per topic when Tenure creates them; the log's order is per identity,
/// so this bounds how many projector/reactor instances can share the work.
pub const DEFAULT_PARTITIONS: i32 = 4;

/// Creates Tenure's topics if they do not exist yet; existing topics are left alone.
pub async fn ensure_topics(bootstrap: &str, partitions: i32) -> Result<(), KafkaAdapterError> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()?;
    let topics: Vec<NewTopic> = [LIFECYCLE, COMMANDS, OUTCOMES]
        .iter()
        .map(|name| {
            let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
            if *name == LIFECYCLE {
                topic.set("retention.ms", "-1")
            } else {
                topic
            }
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for result in admin.create_topics(&topics, &options).await? {
        match result {
            Ok(name) => info!(topic = %name, partitions, "created topic"),
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
pub async fn end_offsets(
    bootstrap: &str,
    topic: &str,
) -> Result<Vec<(i32, i64)>, KafkaAdapterError> {
    let (bootstrap, topic) = (bootstrap.to_owned(), topic.to_owned());
    tokio::task::spawn_blocking(move || {
        let client: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .create()?;
        let metadata = client.fetch_metadata(Some(&topic), Duration::from_secs(10))?;
        let mut ends = Vec::new();
        for t in metadata.topics() {
            for p in t.partitions() {
                let (_, high) = client.fetch_watermarks(&topic, p.id(), Duration::from_secs(10))?;
                ends.push((p.id(), high));
            }
        }
        ends.sort_unstable();
        Ok(ends)
    })
    .await
    .map_err(|e| KafkaAdapterError::Handler(Box::new(e)))?
}
