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
    /// Something the handler depends on (the projection it reads) is unavailable right
    /// now; the batch was rolled back and is retried with backoff.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The embedded broker could not be found or started; the message says how to fix it.
    #[error("embedded broker: {0}")]
    Broker(String),
}

/// What a consumer does after a batch failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureAction {
    /// The failure is about the connection, a lock or another instance: roll back and
    /// try the same records again later, with backoff.
    Retry,
    /// The failure is about the records: retrying cannot fix it. Find the record that
    /// causes it and park it in the dead letters, with its reason, so the rest flow on.
    Park,
    /// The service cannot go on (no broker binary, a bad configuration): stop it.
    Stop,
}

impl KafkaAdapterError {
    /// How a consumer should react to this error from a batch it was handling.
    pub fn action(&self) -> FailureAction {
        match self {
            KafkaAdapterError::Kafka(e) if is_about_the_message(e) => FailureAction::Park,
            KafkaAdapterError::Kafka(_) | KafkaAdapterError::Unavailable(_) => FailureAction::Retry,
            KafkaAdapterError::Store(e) if e.is_transient() => FailureAction::Retry,
            KafkaAdapterError::Store(
                StoreError::Migration(_) | StoreError::BadUrl { .. } | StoreError::PoolConfig(_),
            ) => FailureAction::Stop,
            KafkaAdapterError::Store(_) | KafkaAdapterError::Handler(_) => FailureAction::Park,
            KafkaAdapterError::Broker(_) => FailureAction::Stop,
        }
    }
}

/// Broker refusals about the message itself (too large, malformed): sending it again
/// cannot succeed, so the record that produced it is parked.
fn is_about_the_message(e: &rdkafka::error::KafkaError) -> bool {
    use rdkafka::types::RDKafkaErrorCode as Code;
    matches!(
        e.rdkafka_error_code(),
        Some(
            Code::MessageSizeTooLarge
                | Code::InvalidMessageSize
                | Code::InvalidMessage
                | Code::InvalidRecord
        )
    )
}
