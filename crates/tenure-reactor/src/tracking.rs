//! Tracking commands until their connector confirms them: the adapter that keeps the
//! core's tracking decisions ([`tenure_core::process::tracking`]) in
//! `command_tracking`, in the reactor's own transaction; the
//! [`retrier`](crate::retry) republishes what stays unacknowledged and escalates what
//! cannot be done.

use tenure_core::process::tracking::{AfterFailure, Tracked, after_outcome, escalated_fact};
use tenure_core::{EventPayload, LifecycleEvent};
use tenure_store::StoreError;
use tokio_postgres::Transaction;

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
        "INSERT INTO command_tracking (command_id, identity_id, grant_id, target_system, cause, trigger_event_id,
                                       issued_at, next_attempt_at, command_type)
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::uuid[],
                              $7::timestamptz[], $8::timestamptz[], $9::text[])
         ON CONFLICT (command_id) DO NOTHING",
        &[
            &issued.iter().map(|i| i.command_id).collect::<Vec<_>>(),
            &issued.iter().map(|i| i.identity_id).collect::<Vec<_>>(),
            &issued.iter().map(|i| i.grant_id).collect::<Vec<_>>(),
            &issued.iter().map(|i| i.target_system.as_str()).collect::<Vec<_>>(),
            &issued.iter().map(|i| i.cause).collect::<Vec<_>>(),
            &issued.iter().map(|i| i.trigger_event_id).collect::<Vec<_>>(),
            &issued.iter().map(|i| i.issued_at).collect::<Vec<_>>(),
            &issued.iter().map(|i| i.first_retry_at).collect::<Vec<_>>(),
            &issued.iter().map(|i| i.command_type.as_str()).collect::<Vec<_>>(),
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
            txn.execute(
                "UPDATE command_tracking SET acknowledged_at = COALESCE(acknowledged_at, $2), outcome = $3
                  WHERE command_id = $1",
                &[command_id, &event.effective_time, &status.as_str()],
            )
            .await?;
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
            match after_outcome(*status, connector, detail, event.recorded_time, policy) {
                AfterFailure::Escalate { reason } => {
                    txn.execute(
                        "UPDATE command_tracking SET failures = failures + 1, last_failure = $2, outcome = $3
                          WHERE command_id = $1 AND acknowledged_at IS NULL",
                        &[command_id, &failure, &status.as_str()],
                    )
                    .await?;
                    // Escalated once: a command the retrier already gave up keeps its
                    // first reason, and no second fact is written.
                    let escalated = txn
                        .execute(
                            "UPDATE command_tracking SET escalated_at = $2, escalation_reason = $3
                              WHERE command_id = $1 AND acknowledged_at IS NULL AND escalated_at IS NULL",
                            &[command_id, &event.recorded_time, &reason],
                        )
                        .await?;
                    if escalated > 0 {
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
                    txn.execute(
                        "UPDATE command_tracking SET failures = failures + 1, last_failure = $2, outcome = $3,
                                next_attempt_at = LEAST(next_attempt_at, $4)
                          WHERE command_id = $1 AND acknowledged_at IS NULL",
                        &[command_id, &failure, &status.as_str(), &by],
                    )
                    .await?;
                }
                AfterFailure::Closed => {}
            }
        }
        _ => {}
    }
    Ok(None)
}
