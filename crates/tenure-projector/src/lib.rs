//! The projector: the lifecycle log folded into PostgreSQL tables people can query.
//!
//! Each batch of events is projected and its offsets advanced in one transaction
//! (deploy/architecture.md); a redelivered event id is recognised in the event journal
//! and not applied twice, so the tables always equal the pure core's fold of the log.

pub mod api;
pub mod dashboard;
mod facts;
mod handler;
mod history;
pub mod metrics;
pub mod process;
pub mod queries;
pub mod replay;
/// Every SQL statement the projector runs, read from `sql/*.sql` (see the module docs).
pub mod sql;
mod tables;

use tenure_kafka::{ConsumerSettings, KafkaAdapterError, run_consumer, topics};
use tenure_store::Database;
use tokio::sync::watch;

pub use handler::ProjectionHandler;

/// The consumer group of all projector instances; they share the log's partitions.
pub const GROUP: &str = "tenure-projector";

/// Most records the projector folds per poll (split into one transaction per partition).
pub const BATCH_RECORDS: usize = 20_000;
/// How long the projector waits for a batch to fill once its first record arrived.
pub const BATCH_LINGER_MS: u64 = 100;

/// Runs the projector until `shutdown` turns true.
pub async fn run(
    bootstrap: &str,
    db: Database,
    shutdown: watch::Receiver<bool>,
) -> Result<(), KafkaAdapterError> {
    // The projector is throughput-bound: large batches amortise each transaction.
    let settings = ConsumerSettings::new(bootstrap, GROUP, &[topics::LIFECYCLE]).with_batches(
        BATCH_RECORDS,
        std::time::Duration::from_millis(BATCH_LINGER_MS),
    );
    run_consumer(settings, db, ProjectionHandler::default(), shutdown).await
}
