//! The retrier: republishes unacknowledged commands with the same id, or escalates
//! them, as the core's rule ([`tenure_core::process::tracking::when_unacknowledged`])
//! says, and records each retry and escalation on the identity's log. It reads the
//! clock, like the scheduler, and decides nothing itself.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tenure_kafka::KafkaAdapterError;
use tenure_store::{Database, StoreError};
use tokio::sync::watch;
use tracing::{info, warn};
use uuid::Uuid;

use tenure_core::process::tracking::{
    FollowUp, escalated_fact, republished_fact, when_unacknowledged,
};

use crate::messages;
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
            "SELECT command_id, attempts, identity_id, grant_id FROM command_tracking
              WHERE acknowledged_at IS NULL AND escalated_at IS NULL AND next_attempt_at <= $1
                AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = command_id AND o.held_at IS NOT NULL)
              ORDER BY next_attempt_at LIMIT 500 FOR UPDATE SKIP LOCKED",
            &[&now],
        )
        .await?;
    let mut pass = RetryPass::default();
    let mut facts = Vec::new();
    for row in due {
        let (command_id, attempts, identity_id, grant_id): (Uuid, i32, Uuid, Uuid) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        match when_unacknowledged(attempts.max(0) as u32, now, policy) {
            FollowUp::Escalate { reason } => {
                txn.execute(
                    "UPDATE command_tracking SET escalated_at = $2, escalation_reason = $3
                      WHERE command_id = $1",
                    &[&command_id, &now, &reason],
                )
                .await?;
                warn!(%command_id, attempts, "command escalated: never acknowledged");
                facts.push(messages::fact(&escalated_fact(
                    identity_id,
                    grant_id,
                    command_id,
                    reason,
                    now,
                )));
                pass.escalated += 1;
            }
            FollowUp::Republish { attempt, next_at } => {
                txn.execute(
                    "UPDATE outbox SET published_at = NULL WHERE message_id = $1",
                    &[&command_id],
                )
                .await?;
                txn.execute(
                    "UPDATE command_tracking SET attempts = $3, next_attempt_at = $2 WHERE command_id = $1",
                    &[&command_id, &next_at, &(attempt as i32)],
                )
                .await?;
                facts.push(messages::fact(&republished_fact(
                    identity_id,
                    grant_id,
                    command_id,
                    attempt,
                    now,
                )));
                pass.republished += 1;
            }
        }
    }
    tenure_store::outbox::insert(&*txn, &facts).await?;
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
