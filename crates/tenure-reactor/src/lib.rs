//! The reactor closes the loop: lifecycle events in, commands out.
//!
//! - [`ReactorHandler`] decides with the pure core and writes its state, the
//!   deadlines it now waits for, and its commands and decision facts to the outbox,
//!   all with its offsets in one transaction (deploy/architecture.md).
//! - [`relay`] publishes the outbox with an idempotent producer.
//! - [`scheduler`] is the only reader of the clock: it appends a `DeadlineReached`
//!   event when a deadline falls due (decision 5).

pub mod api;
pub mod brake;
mod handler;
mod messages;
pub mod relay;
pub mod retry;
pub mod scheduler;
/// Every SQL statement the reactor runs, kept in `sql/*.sql` for review and checked
/// against the migrated schema.
pub mod sql;
mod tables;
pub mod tracking;

use tenure_core::Policy;
use tenure_kafka::{ConsumerSettings, KafkaAdapterError, run_consumer, topics};
use tenure_store::Database;
use tokio::sync::watch;

pub use brake::BrakePolicy;
pub use handler::ReactorHandler;
pub use tracking::RetryPolicy;

/// The consumer group of all reactor instances.
pub const GROUP: &str = "tenure-reactor";

/// Runs the reactor's consumer until `shutdown` turns true.
pub async fn run(
    bootstrap: &str,
    db: Database,
    policy: Policy,
    retry: RetryPolicy,
    brake: BrakePolicy,
    routes: topics::CommandTopics,
    shutdown: watch::Receiver<bool>,
) -> Result<(), KafkaAdapterError> {
    let settings = ConsumerSettings::new(bootstrap, GROUP, &[topics::LIFECYCLE]).latency_bound();
    run_consumer(
        settings,
        db,
        ReactorHandler::new(policy, retry, brake).with_command_topics(routes),
        shutdown,
    )
    .await
}
