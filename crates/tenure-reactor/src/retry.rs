//! The retrier: republishes unacknowledged commands with the same id, or escalates
//! them, as the core's rule ([`tenure_core::process::tracking::when_unacknowledged`])
//! says, and records each retry and escalation on the identity's log. It reads the
//! clock, like the scheduler, and decides nothing itself.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tenure_core::{CommandId, GrantId, IdentityId};
use tenure_kafka::KafkaAdapterError;
use tenure_store::{Database, StoreError};
use tokio::sync::watch;
use tokio_postgres::Transaction;
use tracing::{info, warn};

use tenure_core::process::tracking::{
    FollowUp, escalated_fact, republished_fact, when_unacknowledged,
};

use crate::tracking::RetryPolicy;
use crate::{messages, sql};

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
    let due = lock_due(&txn, now).await?;
    let mut pass = RetryPass::default();
    let mut facts = Vec::new();
    for Due {
        command_id,
        attempts,
        identity_id,
        grant_id,
    } in due
    {
        match when_unacknowledged(attempts.max(0) as u32, now, policy) {
            FollowUp::Escalate { reason } => {
                escalate(&txn, command_id, now, &reason).await?;
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
                republish(&txn, command_id, attempt, next_at).await?;
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
    if pass.republished > 0 {
        // Re-queued rows are publishable again: wake the relay once for the pass.
        tenure_store::wakeup::announce(&*txn, tenure_store::wakeup::OUTBOX).await?;
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

// Typed access to `command_tracking` and `outbox` for the retrier (the statements are
// in `sql/retry/`).

/// An unacknowledged command due for a retry.
struct Due {
    command_id: CommandId,
    /// How many times it was published.
    attempts: i32,
    identity_id: IdentityId,
    grant_id: GrantId,
}

/// The unacknowledged commands due at `now` (at most 500, none the brake holds), locked
/// for the rest of `txn`; rows another retrier holds are skipped.
async fn lock_due(txn: &Transaction<'_>, now: DateTime<Utc>) -> Result<Vec<Due>, StoreError> {
    let rows = txn.query(sql::LOCK_DUE_UNACKNOWLEDGED, &[&now]).await?;
    Ok(rows
        .iter()
        .map(|r| Due {
            command_id: r.get(0),
            attempts: r.get(1),
            identity_id: r.get(2),
            grant_id: r.get(3),
        })
        .collect())
}

/// Escalates `command` at `at` for `reason`: it is no longer retried.
async fn escalate(
    txn: &Transaction<'_>,
    command: CommandId,
    at: DateTime<Utc>,
    reason: &str,
) -> Result<(), StoreError> {
    txn.execute(sql::ESCALATE_UNACKNOWLEDGED, &[&command, &at, &reason])
        .await?;
    Ok(())
}

/// Queues `command` in the outbox again as publication number `attempt`, next due at
/// `next_at` unless acknowledged.
async fn republish(
    txn: &Transaction<'_>,
    command: CommandId,
    attempt: u32,
    next_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    txn.execute(sql::REQUEUE_COMMAND, &[&command]).await?;
    txn.execute(
        sql::RECORD_RETRY_ATTEMPT,
        &[&command, &next_at, &(attempt as i32)],
    )
    .await?;
    Ok(())
}
