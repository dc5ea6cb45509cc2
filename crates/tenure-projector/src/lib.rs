//! The projector: the lifecycle log folded into PostgreSQL tables people can query.
//!
//! Each batch of events is projected and its offsets advanced in one transaction
//! (DESIGN.md, decision 3); a redelivered event id is recognised in the event journal
//! and not applied twice, so the tables always equal the pure core's fold of the log.

pub mod api;
mod handler;
mod history;
pub mod queries;
mod tables;

use tenure_kafka::{ConsumerSettings, KafkaAdapterError, run_consumer, topics};
use tenure_store::Database;
use tokio::sync::watch;

pub use handler::ProjectionHandler;

/// The consumer group of all projector instances; they share the log's partitions.
pub const GROUP: &str = "tenure-projector";

/// Runs the projector until `shutdown` turns true.
pub async fn run(
    bootstrap: &str,
    db: Database,
    shutdown: watch::Receiver<bool>,
) -> Result<(), KafkaAdapterError> {
    let settings = ConsumerSettings::new(bootstrap, GROUP, &[topics::LIFECYCLE]);
    run_consumer(settings, db, ProjectionHandler::default(), shutdown).await
}
