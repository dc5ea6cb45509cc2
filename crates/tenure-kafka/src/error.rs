//! Errors of the Kafka adapter.

use rdkafka::error::KafkaError;
use tenure_store::StoreError;

/// What went wrong between Tenure and Kafka, and what the caller should do.
#[derive(Debug, thiserror::Error)]
pub enum KafkaAdapterError {
    /// The broker refused or did not acknowledge; nothing was accepted. Retry later.
    #[error("Kafka: {0}")]
    Kafka(#[from] KafkaError),
    /// The consumer's PostgreSQL side failed; the batch was rolled back and will be redelivered.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The service's batch handler failed for a reason that retrying will not fix.
    #[error("batch handler: {0}")]
    Handler(Box<dyn std::error::Error + Send + Sync>),
    /// The embedded broker could not be found or started; the message says how to fix it.
    #[error("embedded broker: {0}")]
    Broker(String),
}
