//! Tracking commands until their connector confirms them: the adapter that keeps the
//! core's tracking decisions ([`tenure_core::process::tracking`]) in
//! `command_tracking`, in the reactor's own transaction; the
//! [`retrier`](crate::retry) republishes what stays unacknowledged and escalates what
//! cannot be done.

use chrono::{DateTime, Utc};
use tenure_core::process::tracking::{AfterFailure, Tracked, after_outcome, escalated_fact};
use tenure_core::{CommandId, EventPayload, LifecycleEvent};
use tenure_store::StoreError;
use tokio_postgres::Transaction;

use crate::sql;

pub use tenure_core::process::tracking::RetryPolicy;

/// Records newly tracked commands (a re-decided one keeps its first row).
pub(crate) async fn record_issued(
    txn: &Transaction<'_>,
    issued: &[Tracked],
) -> Result<(), StoreError> {
    if issued.is_empty() {
        return Ok(());
    }
    txn.execute(
        sql::TRACK_ISSUED_COMMANDS,
        &[
            &issued.iter().map(|i| i.command_id).collect::<Vec<_>>(),
            &issued.iter().map(|i| i.identity_id).collect::<Vec<_>>(),
            &issued.iter().map(|i| i.grant_id).collect::<Vec<_>>(),
            &issued
                .iter()
                .map(|i| i.target_system.as_str())
                .collect::<Vec<_>>(),
            &issued.iter().map(|i| i.cause).collect::<Vec<_>>(),
            &issued
                .iter()
                .map(|i| i.trigger_event_id)
                .collect::<Vec<_>>(),
            &issued.iter().map(|i| i.issued_at).collect::<Vec<_>>(),
            &issued.iter().map(|i| i.first_retry_at).collect::<Vec<_>>(),
            &issued
                .iter()
                .map(|i| i.command_type.as_str())
                .collect::<Vec<_>>(),
        ],
    )
    .await?;
    Ok(())
}

/// Records a connector's outcome of a tracked command, read from the log. Returns
/// the escalation fact to append when the core's rule escalates it.
pub(crate) async fn record_outcome(
    txn: &Transaction<'_>,
    event: &LifecycleEvent,
    policy: &RetryPolicy,
) -> Result<Option<LifecycleEvent>, StoreError> {
    match &event.payload {
        EventPayload::AccessRevoked {
            command_id, status, ..
        }
        | EventPayload::CommandCompleted {
            command_id, status, ..
        } => {
            acknowledge(txn, *command_id, event.effective_time, status.as_str()).await?;
        }
        EventPayload::CommandFailed {
            grant_id,
            command_id,
            status,
            connector,
            detail,
            ..
        } => {
            let failure = format!("{connector}: {detail}");
            let failures_before = failures_so_far(txn, *command_id).await?;
            match after_outcome(
                *status,
                connector,
                detail,
                event.recorded_time,
                failures_before,
                policy,
            ) {
                AfterFailure::Escalate { reason } => {
                    record_failure(txn, *command_id, &failure, status.as_str()).await?;
                    // Escalated once: a command the retrier already gave up keeps its
                    // first reason, and no second fact is written.
                    if escalate_once(txn, *command_id, event.recorded_time, &reason).await? {
                        return Ok(Some(escalated_fact(
                            event.identity_id,
                            *grant_id,
                            *command_id,
                            reason,
                            event.recorded_time,
                        )));
                    }
                }
                AfterFailure::RetryBy { by } => {
                    record_retryable_failure(txn, *command_id, &failure, status.as_str(), by)
                        .await?;
                }
                AfterFailure::Closed => {}
            }
        }
        _ => {}
    }
    Ok(None)
}

// Typed access to `command_tracking` for connectors' outcomes (the statements are in
// `sql/tracking/`).

/// Records a connector's confirmation of `command` (the first one's time is kept).
async fn acknowledge(
    txn: &Transaction<'_>,
    command: CommandId,
    at: DateTime<Utc>,
    status: &str,
) -> Result<(), StoreError> {
    txn.execute(sql::ACKNOWLEDGE_COMMAND, &[&command, &at, &status])
        .await?;
    Ok(())
}

/// Records a connector's failure of `command`, unless it is already acknowledged.
async fn record_failure(
    txn: &Transaction<'_>,
    command: CommandId,
    failure: &str,
    status: &str,
) -> Result<(), StoreError> {
    txn.execute(sql::RECORD_COMMAND_FAILURE, &[&command, &failure, &status])
        .await?;
    Ok(())
}

/// Escalates `command` unless it is acknowledged or already escalated; returns whether
/// it was escalated now.
async fn escalate_once(
    txn: &Transaction<'_>,
    command: CommandId,
    at: DateTime<Utc>,
    reason: &str,
) -> Result<bool, StoreError> {
    let escalated = txn
        .execute(sql::ESCALATE_FAILED_COMMAND, &[&command, &at, &reason])
        .await?;
    Ok(escalated > 0)
}

/// How many failures connectors reported for `command` so far (0 if untracked).
async fn failures_so_far(txn: &Transaction<'_>, command: CommandId) -> Result<u32, StoreError> {
    let row = txn.query_opt(sql::FAILURES_SO_FAR, &[&command]).await?;
    Ok(row.map_or(0, |r| u32::try_from(r.get::<_, i32>(0)).unwrap_or(0)))
}

/// Records a connector's retryable failure of `command`, unless it is already
/// acknowledged, and brings its next publication forward to `by` at the latest.
async fn record_retryable_failure(
    txn: &Transaction<'_>,
    command: CommandId,
    failure: &str,
    status: &str,
    by: DateTime<Utc>,
) -> Result<(), StoreError> {
    txn.execute(
        sql::RECORD_RETRYABLE_FAILURE,
        &[&command, &failure, &status, &by],
    )
    .await?;
    Ok(())
}
