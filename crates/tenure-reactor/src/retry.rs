//! The retrier: republishes unacknowledged revocation commands with the same id and
//! exponential backoff, and escalates them when attempts run out. It reads the clock,
//! like the scheduler, and never decides anything the pure core would.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tenure_kafka::KafkaAdapterError;
use tenure_store::{Database, StoreError};
use tokio::sync::watch;
use tracing::{info, warn};
use uuid::Uuid;

use crate::tracking::RetryPolicy;

/// Retries and escalates every `tick` until `shutdown` turns true.
pub async fn run(
    db: Database,
    policy: RetryPolicy,
    tick: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), KafkaAdapterError> {
    while !*shutdown.borrow() {
        if let Err(e) = retry_due(&db, &policy, Utc::now()).await {
            warn!(error = %e, "retrier failed; will try again");
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = shutdown.changed() => {}
        }
    }
    Ok(())
}

/// What one pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RetryPass {
    pub republished: usize,
    pub escalated: usize,
}

/// Re-queues unacknowledged commands due at `now` in the outbox, or escalates them.
pub async fn retry_due(
    db: &Database,
    policy: &RetryPolicy,
    now: DateTime<Utc>,
) -> Result<RetryPass, StoreError> {
    let mut client = db.client().await?;
    let txn = client.transaction().await?;
    let due = txn
        .query(
            "SELECT command_id, attempts FROM command_tracking
              WHERE acknowledged_at IS NULL AND escalated_at IS NULL AND next_attempt_at <= $1
                AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = command_id AND o.held_at IS NOT NULL)
              ORDER BY next_attempt_at LIMIT 500 FOR UPDATE SKIP LOCKED",
            &[&now],
        )
        .await?;
    let mut pass = RetryPass::default();
    for row in due {
        let (command_id, attempts): (Uuid, i32) = (row.get(0), row.get(1));
        if attempts >= policy.max_attempts {
            txn.execute(
                "UPDATE command_tracking SET escalated_at = $2,
                        escalation_reason = 'no acknowledgement after ' || attempts || ' publications'
                  WHERE command_id = $1",
                &[&command_id, &now],
            )
            .await?;
            warn!(%command_id, attempts, "revocation escalated: never acknowledged");
            pass.escalated += 1;
        } else {
            txn.execute(
                "UPDATE outbox SET published_at = NULL WHERE message_id = $1",
                &[&command_id],
            )
            .await?;
            txn.execute(
                "UPDATE command_tracking SET attempts = attempts + 1, next_attempt_at = $2 WHERE command_id = $1",
                &[&command_id, &(now + policy.backoff(attempts + 1))],
            )
            .await?;
            pass.republished += 1;
        }
    }
    txn.commit().await?;
    if pass != RetryPass::default() {
        info!(
            republished = pass.republished,
            escalated = pass.escalated,
            "unacknowledged revocations handled"
        );
    }
    Ok(pass)
}
